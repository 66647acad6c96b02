#!/usr/bin/env bash
# Regenerate src/tidal/serving/grpc_predict_v2_pb2.py (and its .pyi) from grpc_predict_v2.proto.
#
# grpcio-tools 1.71 writes code for protobuf >= 5.29, so the grpc extra works with protobuf 5, 6 and 7
# (tritonclient[grpc] asks for protobuf 6); newer tools would raise that floor. They go into a
# throwaway environment, never into the project's: the server needs only grpcio and protobuf.
# Usage: scripts/generate-grpc-messages.sh [TOOLS_VENV]
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS_VERSION=1.71.2
venv=${1:-/tmp/tidal-grpc-tools-$TOOLS_VERSION}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import grpc_tools" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "grpcio-tools==$TOOLS_VERSION"
fi
out=src/tidal/serving
"$venv/bin/python" -m grpc_tools.protoc -I src --python_out=src --pyi_out=src "$out/grpc_predict_v2.proto"
# Our messages live in a descriptor pool of their own, not protobuf's default one: their names are the
# protocol's (inference.ModelInferRequest ...), which tritonclient and KServe also register in the
# default pool, and one pool refuses a second definition of a name. The wire format is unchanged.
python3 - "$out/grpc_predict_v2_pb2.py" "$TOOLS_VERSION" <<'PYTHON'
import sys
from pathlib import Path

path, version = Path(sys.argv[1]), sys.argv[2]
text = path.read_text()
default = "DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile("
assert text.count(default) == 1, "the generated code changed shape: update scripts/generate-grpc-messages.sh"
text = text.replace(default, "DESCRIPTOR = _descriptor_pool.DescriptorPool().AddSerializedFile(")
header = (f"# Generated from grpc_predict_v2.proto by grpcio-tools {version} (grpc_tools.protoc --python_out),\n"
          "# then moved into a descriptor pool of its own; regenerate with scripts/generate-grpc-messages.sh\n"
          "# (make grpc-messages), never edit by hand.\n")
path.write_text(header + text)
stub = path.with_suffix(".pyi")
stub.write_text(f"# Generated from grpc_predict_v2.proto by grpcio-tools {version} (grpc_tools.protoc --pyi_out);\n"
                "# regenerate with scripts/generate-grpc-messages.sh (make grpc-messages), never edit by hand.\n"
                + stub.read_text())
PYTHON
echo "regenerated $out/grpc_predict_v2_pb2.py and .pyi"
