"""What a real connection met, and how that compares with the evaluator's prediction.

An observation is one of:

* ``connected``: the destination accepted (TCP, SCTP) or answered (UDP); ``answer`` is
  what it said, if anything (a pod of the local cluster says its ``namespace/name``);
* ``refused``: a reset, or an ICMP port-unreachable: the network let the connection
  through and nothing listens there;
* ``dropped``: nothing came back within the timeout, which is what a NetworkPolicy that
  denies looks like (and a UDP server that never answers, too);
* ``unreachable``: no route to the address: the probe itself went wrong, no verdict.

Connected and refused mean the network allowed the connection. Purely computational.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Outcome = Literal["connected", "refused", "dropped", "unreachable"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("connected", "refused", "dropped", "unreachable")
_LET_THROUGH: Final = frozenset({"connected", "refused"})


@dataclass(frozen=True, slots=True)
class Observation:
    outcome: Outcome
    answer: str | None = None
    seconds: float = 0.0

    @property
    def decided(self) -> bool:
        """Whether the network gave a verdict (an unreachable address gives none)."""
        return self.outcome != "unreachable"

    @property
    def allowed(self) -> bool:
        """Whether the network let the connection through."""
        return self.outcome in _LET_THROUGH


def agrees(predicted: bool, observed: Observation) -> bool:
    """Whether what the wire showed is what the evaluator predicted."""
    return observed.decided and observed.allowed == predicted


def worth_another_look(predicted: bool, observed: Observation) -> bool:
    """A dropped connection predicted allowed may be a lost packet (an enforcer that
    judges in user space loses the verdict of a few packets while it reloads; a SYN is
    retransmitted a second later, a datagram is gone), so it is tried again before it
    counts; a connection let through against a denying prediction is proof at once."""
    return predicted and observed.outcome == "dropped"
