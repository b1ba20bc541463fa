"""The result every step returns, in test mode and in a real run alike."""

import dataclasses


@dataclasses.dataclass
class StepResult:
    """What a step did (or, with ``test=True``, would do).

    ``changed`` is True when something was (or would be) changed; ``diff`` is a unified diff of the files
    touched (never containing a secret); ``data`` holds step-specific structured details for ``changes``.
    """

    changed: bool
    comment: str
    diff: str = ""
    data: dict = dataclasses.field(default_factory=dict)

    def as_dict(self):
        out = {"changed": self.changed, "comment": self.comment, "diff": self.diff}
        if self.data:
            out.update(self.data)
        return out
