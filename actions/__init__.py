"""PCMO actions, v3 pipelines and stream socket messages: pure, no I/O."""

from actions import messages
from actions.builder import PCMO
from actions.errors import ActionValidationError
from actions.messages import AudioMessages, encode, interrupt, pause, resume, stop, stream_audio
from actions.pipeline import Pipeline, validate_pipeline
from actions.schemas import StrictSchema, validate_action, validate_pcmo
from actions.sdk_compat import Action, PiopiyCompatError, StreamAction

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
