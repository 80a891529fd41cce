"""The gRPC methods: ``google.cloud.speech.v1.Speech`` (Recognize, LongRunningRecognize) and
``google.longrunning.Operations`` (GetOperation), as ``google-cloud-speech`` calls them."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime
from typing import Any

import grpc
import proto
from google.cloud.speech_v1.types import cloud_speech
from google.longrunning import operations_pb2
from google.protobuf import any_pb2, json_format
from google.rpc import status_pb2

from emulators.audio import AudioInfo, sha256
from emulators.grpc_gateway import GrpcError, GrpcMethod, Metadata
from emulators.providers.speech.recognition import Options, billed, check_request, results
from emulators.providers.speech.state import Operation, Script, SpeechState
from emulators.transcripts import Transcript, default_transcript

SPEECH = "/google.cloud.speech.v1.Speech/"
OPERATIONS = "/google.longrunning.Operations/"
# A `uri` nobody scripted: the emulator has no Cloud Storage to read it from.
URI_NOT_FOUND = "Requested entity was not found."
URI_DEFAULT_SECONDS = 60.0


def _type_url(message: type[Any]) -> str:
    return f"type.googleapis.com/{message.meta.full_name}"


def _describe(request: Any) -> Any:
    """The request as JSON for the call log, inline audio as its SHA-256 and size."""
    pb = type(request).pb(request) if isinstance(request, proto.Message) else request
    body = json_format.MessageToDict(pb)
    content = body.get("audio", {}).pop("content", None)
    if content is not None:
        raw = base64.b64decode(content)
        body["audio"]["content"] = {"sha256": sha256(raw), "bytes": len(raw)}
    return body


class SpeechService:
    def __init__(self, state: SpeechState) -> None:
        self.state = state

    def methods(self) -> dict[str, GrpcMethod]:
        return {
            SPEECH + "Recognize": GrpcMethod(
                cloud_speech.RecognizeRequest.deserialize,
                cloud_speech.RecognizeResponse.serialize,
                self.recognize,
                _describe,
            ),
            SPEECH + "LongRunningRecognize": GrpcMethod(
                cloud_speech.LongRunningRecognizeRequest.deserialize,
                operations_pb2.Operation.SerializeToString,
                self.long_running_recognize,
                _describe,
            ),
            OPERATIONS + "GetOperation": GrpcMethod(
                operations_pb2.GetOperationRequest.FromString,
                operations_pb2.Operation.SerializeToString,
                self.get_operation,
                _describe,
            ),
        }

    def _transcript(
        self, audio: cloud_speech.RecognitionAudio, info: AudioInfo | None, options: Options
    ) -> tuple[Script | None, Transcript, float]:
        """(the script, the transcript, the audio's seconds)."""
        if info is None:
            script = self.state.scripts.get(audio.uri)
            if script is None:
                raise GrpcError(grpc.StatusCode.NOT_FOUND, URI_NOT_FOUND)
            return script, script.transcript(), script.duration or script.transcript().duration
        script = self.state.scripts.get(info.sha256)
        if script is not None:
            return script, script.transcript(), info.duration
        speakers = options.min_speakers if options.diarization else 1
        return (
            None,
            default_transcript(info.sha256, info.duration, speakers=speakers, silent=info.silent),
            info.duration,
        )

    async def recognize(self, request: cloud_speech.RecognizeRequest, metadata: Metadata) -> Any:
        options, info = check_request(request.config, request.audio, sync=True)
        _, transcript, seconds = self._transcript(request.audio, info, options)
        return cloud_speech.RecognizeResponse(
            results=results(transcript, options), total_billed_time=billed(seconds)
        )

    async def long_running_recognize(
        self, request: cloud_speech.LongRunningRecognizeRequest, metadata: Metadata
    ) -> operations_pb2.Operation:
        options, info = check_request(request.config, request.audio, sync=False)
        script, transcript, seconds = self._transcript(request.audio, info, options)
        operation = self.state.start(
            key=script.key if script is not None else info.sha256 if info is not None else request.audio.uri,
            processing_seconds=self.state.processing_seconds(script, seconds),
            audio_seconds=seconds,
            options=dataclasses.asdict(options),
            transcript=transcript,
            error=script.error if script is not None else None,
            uri=request.audio.uri,
        )
        return self.operation(operation)

    async def get_operation(self, request: operations_pb2.GetOperationRequest, metadata: Metadata) -> Any:
        operation = self.state.operations.get(request.name)
        if operation is None:
            raise GrpcError(grpc.StatusCode.NOT_FOUND, f"Operation not found: {request.name}")
        return self.operation(operation)

    def operation(self, operation: Operation) -> operations_pb2.Operation:
        progress = operation.progress()
        metadata = cloud_speech.LongRunningRecognizeMetadata(
            progress_percent=progress,
            start_time=datetime.fromtimestamp(operation.created, UTC),
            last_update_time=datetime.now(UTC),
            uri=operation.uri,
        )
        answer = operations_pb2.Operation(
            name=operation.name,
            metadata=any_pb2.Any(
                type_url=_type_url(cloud_speech.LongRunningRecognizeMetadata),
                value=cloud_speech.LongRunningRecognizeMetadata.serialize(metadata),
            ),
            done=progress >= 100,
        )
        if progress < 100:
            return answer
        if operation.error is not None:
            answer.error.CopyFrom(
                status_pb2.Status(code=operation.error.code, message=operation.error.message)
            )
            return answer
        response = cloud_speech.LongRunningRecognizeResponse(
            results=results(operation.transcript, Options(**operation.options)),
            total_billed_time=billed(operation.audio_seconds),
        )
        answer.response.CopyFrom(
            any_pb2.Any(
                type_url=_type_url(cloud_speech.LongRunningRecognizeResponse),
                value=cloud_speech.LongRunningRecognizeResponse.serialize(response),
            )
        )
        return answer
