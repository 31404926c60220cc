"""The runs a server serves: each loaded once, its card, and one worker thread that does all
of its model's work, batching concurrent requests together.

Nothing here imports Starlette: app.py is the HTTP layer over this.
"""

from __future__ import annotations

import math
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import NnlmError
from ..inference.lm import LanguageModel, load
from ..inference.sample import SampleRequest, generate
from ..run import rundir
from ..settings import to_json

MAX_BATCH_ROWS = 2048  # samples generated in one batch, whatever the number of requests


@dataclass
class SampleJob:
    """One /api/sample request, checked (ServedRun.sample_job)."""

    request: SampleRequest
    future: Future = field(default_factory=Future)
    tries: int = 0  # the samples drawn in all (those that failed a test too), set by the worker

    @property
    def n(self) -> int:
        """The samples asked for (the rows the job adds to a batch)."""
        return self.request.num

    def batch_key(self) -> tuple:
        """Jobs with equal keys are generated in one batch."""
        return ("sample", *self.request.batch_key())


@dataclass
class ScoreJob:
    """One /api/score request: a text, and a labelled run's label to read it under."""

    text: str
    label: str | None = None
    future: Future = field(default_factory=Future)

    n = 1

    def batch_key(self) -> tuple:
        """Score jobs of one label join one batch."""
        return ("score", self.label)


class ServedRun:
    """A loaded run: its LanguageModel, its card, and the worker that runs its jobs.

    One thread per run does every forward pass of its model: the model is never used by two
    threads at once (no lock needed), and requests that arrive while it is busy are merged
    into its next batch, so 16 clients asking for 10 samples each cost about one forward pass
    per position, not 16."""

    def __init__(self, name: str, lm: LanguageModel):
        self.name, self.lm = name, lm
        self.default_max_len = lm.source.default_max_len()  # a scan of the train items: once
        self.card = run_card(name, lm, self.default_max_len)
        self.pictures: dict[str, bytes] = {}  # PNGs drawn in memory (app.picture), by name
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._start = threading.Lock()

    def sample_job(self, request: SampleRequest, limits: dict | None = None) -> SampleJob:
        """A job of the samples `request` asks for, checked as LanguageModel.sample checks it
        (SampleRequest.checked, with the caller's `limits`)."""
        return SampleJob(request.checked(self.lm.source, limits=limits))

    def score_job(self, text: str, label: str | None = None) -> ScoreJob:
        """A job scoring `text` (a labelled run's: under `label`); NnlmError for a character the
        model lacks, a label it lacks (or none, in a labelled run), or nothing to score."""
        self.lm.starts(1, label)  # (the label's errors, now rather than in the worker)
        ids = self.lm.source.encode(text, "the text")
        if not ids and not self.lm.source.ends:
            raise NnlmError("nothing to score: the text has no tokens (a stream run predicts no end token)")
        return ScoreJob(text, label)

    def submit(self, job: SampleJob | ScoreJob) -> Future:
        """Queue a job; its future gets the result (or the exception) from the worker."""
        with self._start:
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name=f"nnlm-serve-{self.name}",
                                                daemon=True)
                self._worker.start()
        self.jobs.put(job)
        return job.future

    def close(self) -> None:
        """Stop the worker once the jobs queued before this are done (the app's shutdown)."""
        self.jobs.put(None)

    def _work(self) -> None:
        stop = False
        while not stop:
            jobs, rows = [], 0
            while not jobs or rows < MAX_BATCH_ROWS:  # whatever else is waiting joins this batch
                try:
                    job = self.jobs.get(block=not jobs)
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                jobs.append(job)
                rows += job.n
            groups: dict[tuple, list] = {}
            for job in jobs:
                if job.future.set_running_or_notify_cancel():  # False: the client went away
                    groups.setdefault(job.batch_key(), []).append(job)
            for group in groups.values():
                self._run(group)

    def _run(self, group: list) -> None:
        try:
            results = score_jobs(self.lm, group) if isinstance(group[0], ScoreJob) \
                else sample_jobs(self.lm, group)
        except Exception as e:  # noqa: BLE001 - the requests get it, the worker goes on
            for job in group:
                job.future.set_exception(e)
            return
        for job, result in zip(group, results, strict=True):
            job.future.set_result(result)


def sample_jobs(lm: LanguageModel, jobs: list[SampleJob]) -> list[list[dict]]:
    """Each job's samples, as {text, logprob, novelty}: one batch for all of them (a job drawn in
    rounds is alone in its group), and one batched `score` for their log-probabilities. Each
    job's `tries` is set."""
    first = jobs[0].request
    if first.rounds:
        samples = [lm.draw(first)]
        jobs[0].tries = samples[0].tries
    else:
        generators, starts = [], []
        for job in jobs:  # (a labelled run: each job's labels drawn first, as LanguageModel.draw does)
            generators.append(torch.Generator(lm.device))
            generators[-1].manual_seed(job.request.seed)
            starts.append(lm.label_starts(job.request, job.n, generators[-1]))
        sequences = generate_jobs(lm.predictor, [job.n for job in jobs], generators, list(first.prefix_ids),
                                  starts=torch.cat(starts) if lm.source.labels else None, **first.controls())
        samples = [lm.samples_of(seqs, None if rows is None else rows.tolist())
                   for seqs, rows in zip(sequences, starts, strict=True)]
        for job in jobs:
            job.tries = job.n
    logprobs = iter(sample_logprobs(lm, [s for job_samples in samples for s in job_samples]))
    return [[{"text": s.text, "logprob": next(logprobs), "novelty": s.novelty,
              **({"label": s.label} if s.label is not None else {})} for s in job_samples]
            for job_samples in samples]


def sample_logprobs(lm: LanguageModel, samples: list) -> list[float]:
    """Each sample's log-probability, under its own label (a labelled run), in batches of one label."""
    out = [0.0] * len(samples)
    for label in dict.fromkeys(s.label for s in samples):
        at = [k for k, s in enumerate(samples) if s.label == label]
        for k, score in zip(at, lm.score([samples[k].text for k in at], label), strict=True):
            out[k] = score.logprob
    return out


def score_jobs(lm: LanguageModel, jobs: list[ScoreJob]) -> list[dict]:
    """{loss, logprob, tokens} of each job's text, all scored in one batch."""
    results = []
    for score in lm.score([job.text for job in jobs], jobs[0].label):
        results.append({"loss": -score.logprob / len(score.tokens), "logprob": score.logprob,
                        "tokens": [{"token": t, "logprob": lp, "prob": math.exp(lp)}
                                   for t, lp in score.tokens]})
    return results


def generate_jobs(predictor, counts: list[int], generators: list[torch.Generator], prefix: list[int],
                  **controls) -> list[list[list[int]]]:
    """sample.generate for several requests in one batch, each drawing from its own generator
    (so its samples are those of `nnlm sample --seed`); each request's sequences."""
    seqs = generate(predictor, sum(counts), prefix, groups=list(zip(generators, counts, strict=True)),
                    **controls)
    firsts = [sum(counts[:j]) for j in range(len(counts))]
    return [seqs[s:s + c] for s, c in zip(firsts, counts, strict=True)]


# -- loading and describing runs ----------------------------------------------------------

def load_runs(run_dirs: list[str | Path], device: str = "cpu") -> dict[str, ServedRun]:
    """Each run loaded once, by a name unique among them (its directory's, then -2, -3...)."""
    if not run_dirs:
        raise NnlmError("give at least one run directory")
    runs: dict[str, ServedRun] = {}
    for run_dir in run_dirs:
        lm = load(run_dir, device=device)
        base = Path(run_dir).resolve().name or "run"
        name, k = base, 1
        while name in runs:
            k += 1
            name = f"{base}-{k}"
        runs[name] = ServedRun(name, lm)
    return runs


def run_card(name: str, lm: LanguageModel, default_max_len: int) -> dict:
    """What the page shows about a run: data, settings, losses, the mixture."""
    spec = lm.spec
    summary = read_optional(rundir.read_summary, spec.run_dir)
    source_state = read_optional(rundir.read_config, spec.run_dir).get("source", {})
    return {
        "name": name, "level": lm.source.level, "family": spec.family.name,
        "data_kind": lm.source.name, "vocab_size": len(lm.vocab),
        "parameters": sum(p.numel() for p in lm.model.parameters()),
        "dev_loss": summary.get("dev_loss"), "test_loss": summary.get("test_loss"),
        "train_loss": summary.get("train_loss"), "model_dev_loss": summary.get("model_dev_loss"),
        "model_test_loss": summary.get("model_test_loss"), "bits_per_char": summary.get("bits_per_char"),
        "mixture": lm.describe() if lm.mixture is not None else None, "why": spec.reasons,
        "data": {"path": spec.data.path or "(the bundled names)", "tokens": source_state.get("tokens"),
                 "items": source_state.get("items")},
        "training": {k: summary.get(k) for k in ("step", "best_step", "epochs", "seconds", "stopped")},
        "preset": spec.preset,
        "settings": {"model": to_json(spec.model_config), "train": to_json(spec.train),
                     "data": to_json(spec.data)},
        "novelty": lm.source.marks_novelty, "ends": lm.source.ends, "default_max_len": default_max_len,
        "labels": list(lm.source.labels),
    }


def read_optional(read, run_dir) -> dict:
    """A run's JSON file, or {} where it is missing or unreadable (a run stopped early has
    no summary): the card then shows less, the run still serves."""
    try:
        return read(run_dir)
    except NnlmError:
        return {}
