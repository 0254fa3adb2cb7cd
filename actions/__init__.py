"""PCMO actions, v3 pipelines and stream socket messages: pure, no I/O."""

from . import messages
from .builder import PCMO
from .errors import ActionValidationError
from .messages import encode, interrupt, pause, resume, stop, stream_audio
from .pipeline import Pipeline, validate_pipeline
from .schemas import validate_action, validate_pcmo

__all__ = [
    "PCMO",
    "ActionValidationError",
    "Pipeline",
    "encode",
    "interrupt",
    "messages",
    "pause",
    "resume",
    "stop",
    "stream_audio",
    "validate_action",
    "validate_pcmo",
    "validate_pipeline",
]
