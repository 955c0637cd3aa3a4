"""Errors the harness raises on purpose, each with a message that says what was wrong and what is allowed."""


class HarnessError(Exception):
    """Base class of the harness's own errors."""


class DataError(HarnessError, ValueError):
    """A task's data is missing, malformed or unusable (names the file, column or value)."""


class ConfigError(HarnessError, ValueError):
    """A fixture or protocol parameter is out of range or of the wrong type."""


class HubUnavailable(HarnessError, ConnectionError):
    """The Hugging Face hub cannot be reached, or an optional hub dependency is missing.

    Claims turn this into a skip with the message as the reason: a full fixture on an offline
    machine is not a failure of the claim.
    """


class TrainingDiverged(HarnessError, FloatingPointError):
    """Training produced a non-finite loss or non-finite logits: the run stops, names the step,
    seed and learning rate, and nothing is stored (a NaN model would score as a constant
    classifier and be judged as if it were real)."""


def diverged(what: str, value: float, step: int, total: int, seed: int, lr: float) -> TrainingDiverged:
    return TrainingDiverged(
        f"{what} diverged: the loss became {value} at step {step} of {total} (seed {seed}, lr {lr:g}); "
        "the learning rate is the likely cause (lower it), or inputs that are not finite. Nothing was stored.")


class IntegrityError(HarnessError):
    """A file's content does not match the checksum it was pinned or recorded with."""
