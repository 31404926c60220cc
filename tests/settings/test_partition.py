"""Partitioning settings by what they configure, and refusing those that cannot be set."""

import pytest

from nnlm.errors import NnlmError, SettingError
from nnlm.models import FAMILIES
from nnlm.settings.declare import SHORT, TRIAL
from nnlm.settings.partition import check_family, declared_settings, partition

MLP, LSTM, TRANSFORMER = FAMILIES["mlp"], FAMILIES["lstm"], FAMILIES["transformer"]


def test_settings_go_where_they_configure():
    parts = partition({"n_hidden": 64, "lr": 0.01, "tokens": "char", "dropout": None}, MLP, FAMILIES.values())
    assert (parts.model, parts.train, parts.data) == ({"n_hidden": 64}, {"lr": 0.01}, {"tokens": "char"})


def test_any_family_s_settings_are_taken_before_the_family_is_known():
    parts = partition({"n_head": 2, "n_hidden": 64}, None, FAMILIES.values())
    assert parts.model == {"n_head": 2, "n_hidden": 64}
    with pytest.raises(NnlmError, match="n_head is a setting of family transformer, not of family mlp"):
        check_family(parts.model, MLP, FAMILIES.values())


def test_another_family_s_setting_is_named_by_its_own_flag():
    with pytest.raises(SettingError) as refused:
        partition({"n_head": 2}, MLP, FAMILIES.values())
    assert str(refused.value) == "n_head is a setting of family transformer, not of family mlp"
    assert refused.value.for_cli() == "--n-head is a setting of --model transformer, not of --model mlp"
    with pytest.raises(SettingError) as refused:
        partition({"sampled": 8}, FAMILIES["bigram"], FAMILIES.values())
    assert refused.value.for_cli().startswith("--sampled-softmax is a setting of")  # not "--sampled"


def test_unknown_settings_are_listed():
    with pytest.raises(NnlmError, match="unknown settings: colour, size"):
        partition({"size": 1, "colour": 2}, MLP, FAMILIES.values())


def test_what_a_kind_of_training_or_a_resume_cannot_set_is_refused():
    with pytest.raises(NnlmError, match="'steps' is not a setting the lr finder can set"):
        partition({"steps": 10}, MLP, FAMILIES.values(), scopes=SHORT, purpose="the lr finder")
    with pytest.raises(NnlmError, match="'tokens' is not a setting a sweep can set"):
        partition({"tokens": "char"}, MLP, FAMILIES.values(), scopes=TRIAL, data=False, purpose="a sweep")
    with pytest.raises(SettingError) as refused:
        partition({"lr": 0.1}, MLP, FAMILIES.values(), resuming=True)
    assert refused.value.for_cli().startswith("--lr cannot change when resuming (only --steps, --patience")
    assert str(refused.value).startswith("lr cannot change when resuming (only steps, patience")
    assert partition({"steps": 99}, LSTM, FAMILIES.values(), resuming=True).train == {"steps": 99}


def test_a_family_s_declared_settings_are_its_own_and_training_s_and_the_data_s():
    declared = declared_settings(TRANSFORMER)
    model = {s.name for s in declared["model"]}
    assert "n_head" in model and "n_hidden" not in model
    assert {"lr", "steps"} <= {s.name for s in declared["train"]}
    assert "tokens" in {s.name for s in declared["data"]}
