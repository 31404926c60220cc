"""The default run: settings chosen from the data rather than fixed for names.txt.

With no --preset, training follows the data: the plateau schedule (the peak lr until dev
stops improving for --patience evaluations, then an anneal, then stop) within a time budget,
two dev evaluations per pass over the data, and a batch size that gives small data enough
steps per pass. The model's size and regularisation come from its family's rule
(Family.auto), by the number of training tokens. Everything chosen is printed and recorded
in config.json, with the reasons; explicit settings override any of it.

The rules were set on a suite of public lists of 280 to 150,000 items in many scripts
(benchmarks/any_data.py), never on one list.
"""

from __future__ import annotations

from ..data.sources import DataFacts, Source

# Seconds of training. A list of up to BIG_LIST items (or a text of up to BIG_CHARS training
# characters, whatever a token is: a text's subword or word run gets the time its character
# run gets) gets SMALL_BUDGET, less past MID_TOKENS (where fitting the n-gram model and the
# final evaluations take longer), so that the whole `nnlm train` stays within 3 minutes on 2
# cores; bigger data, and a labelled list of any size (one distribution a label, learnt at once),
# gets BIG_BUDGET, within 10 minutes. The run stops earlier where dev stops improving.
SMALL_BUDGET, MID_BUDGET, BIG_BUDGET = 150.0, 130.0, 480.0
MID_TOKENS, BIG_CHARS, BIG_LIST = 200_000, 500_000, 100_000
EVALS_PER_EPOCH = 2
PATIENCE = 6  # evaluations, three passes over the data
NO_DEV_EPOCHS = 30  # a list too small for a dev split trains this many passes
LABELLED_WHY = " (a labelled list: a distribution a label, learnt at once)"


def time_budget(data: DataFacts) -> float:
    """Seconds of the default run's whole command, by the size of the data and whether it is a
    labelled list (see the constants above)."""
    big = data.items > BIG_LIST if data.items else data.tokens * data.chars_per_token > BIG_CHARS
    big = big or data.labels > 0
    return BIG_BUDGET if big else SMALL_BUDGET if data.tokens <= MID_TOKENS else MID_BUDGET


def batch_size(tokens: int) -> int:
    """Smaller batches for small data: enough steps per pass to learn before it overfits."""
    return 128 if tokens < 20_000 else 512 if tokens < 200_000 else 1024


def choose_family(data: DataFacts) -> tuple[str, list[str]]:
    """The family of the default run, and why: the MLP for a list; for running text a
    recurrent network, whose state carries context across lines and which beats the MLP there
    (benchmarks/text.py)."""
    if data.items:
        return "mlp", []
    return "lstm", ["running text: an LSTM, whose state carries the context across lines"]


def training_settings(data: DataFacts, batch: int | None = None) -> tuple[dict, list[str]]:
    """How the default run trains; `batch`: the family's batch size, where it chooses one."""
    batch = batch or batch_size(data.tokens)
    per_epoch = max(1, data.tokens // batch)
    budget = time_budget(data)
    within = f"within {budget:g} s" + (LABELLED_WHY if data.labels else "")
    settings = dict(optimizer="adamw", lr_schedule="plateau", batch_size=batch, max_seconds=budget,
                    warmup_steps=0, log_interval=max(1, min(50, per_epoch // 4)))
    why = [f"batch {batch} ({per_epoch:,} step{'s' if per_epoch > 1 else ''} a pass over "
           f"{data.tokens:,} training tokens)"]
    if data.has_dev:
        settings.update(steps=0, patience=PATIENCE, eval_interval=max(5, per_epoch // EVALS_PER_EPOCH))
        why.append(f"until dev stops improving for {PATIENCE} evaluations ({PATIENCE // EVALS_PER_EPOCH} "
                   f"passes), then an anneal, {within}")
    else:
        steps = NO_DEV_EPOCHS * per_epoch
        settings.update(steps=steps, patience=0, eval_interval=max(5, per_epoch))
        why.append(f"no dev split to stop on: {NO_DEV_EPOCHS} passes ({steps:,} steps), {within}")
    return settings, why


def chosen_names(families) -> frozenset[str]:
    """The settings the default run may choose from the data, for any family of `families` and
    any data (what `nnlm train --help` says of them)."""
    kinds = [DataFacts(tokens, items, vocab, chars, True) for tokens, items, vocab, chars in
             ((200_000, 30_000, 30, 1.0), (1_000_000, 0, 60, 1.0), (300_000, 0, 20_000, 4.0))]
    names = set()
    for data in kinds:
        names.update(training_settings(data)[0])
        for fam in families:
            names.update(fam.auto(data)[0] if fam.auto else fam.presets.get("default", {}))
    return frozenset(names)


def choose(family, source: Source) -> tuple[dict, list[str]]:
    """The settings of the default run of `family` on `source`, and why, one reason a line."""
    data = source.facts()
    if family.auto is None:  # the family's default preset, trained as below
        settings, why = training_settings(data)
        return {**family.presets.get("default", {}), **settings}, why
    model, model_why = family.auto(data)
    settings, why = training_settings(data, model.get("batch_size"))
    return {**settings, **model}, model_why + why
