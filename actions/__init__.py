"""PCMO actions, v3 pipelines and stream socket messages: pure, no I/O."""

from . import messages
from .builder import PCMO
from .errors import ActionValidationError
from .messages import AudioMessages, encode, interrupt, pause, resume, stop, stream_audio
from .pipeline import Pipeline, validate_pipeline
from .schemas import StrictSchema, validate_action, validate_pcmo
from .sdk_compat import Action, PiopiyCompatError, StreamAction

__all__ = [
    "PCMO",
    "Action",
    "ActionValidationError",
    "AudioMessages",
    "Pipeline",
    "PiopiyCompatError",
    "StreamAction",
    "StrictSchema",
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
