#!/usr/bin/python3
"""A Trellis client in Python: binds a Block node, writes and reads a block,
and holds a wake lease while it works, so the system cannot suspend under it.

Needs only Debian packages: python3-grpcio and python3-protobuf, plus protoc
and grpc_python_plugin (protobuf-compiler, protobuf-compiler-grpc) to make
the Python modules from Trellis' protos at start-up.

    /usr/bin/python3 examples/python/block_client.py \\
        --endpoint unix:$XDG_RUNTIME_DIR/trellis/manager.sock \\
        --node root.sys.disk0.block.p2 --block 7

Prints what it does, one line per step; exits 1 with the gRPC status on any
error. --json prints one JSON object instead.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import grpc

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")
PROTOS = [
    "trellis/block/v1/block.proto",
    "trellis/manager/v1/manager.proto",
    "trellis/manifest/v1/manifest.proto",
    "trellis/node/v1/node.proto",
    "trellis/host/v1/host.proto",
    "trellis/power/v1/power.proto",
]


def generate_stubs(proto_dir, out_dir):
    """Runs protoc with the gRPC Python plugin into out_dir."""
    plugin = shutil.which("grpc_python_plugin") or "/usr/bin/grpc_python_plugin"
    subprocess.run(
        ["protoc", "-I", proto_dir, "--python_out", out_dir, "--grpc_python_out", out_dir,
         "--plugin=protoc-gen-grpc_python=" + plugin] + PROTOS,
        check=True)
    sys.path.insert(0, out_dir)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="the manager, e.g. unix:/run/trellis/manager.sock")
    parser.add_argument("--node", required=True, help="a node serving trellis.block.v1.Block")
    parser.add_argument("--block", type=int, default=0, help="which block to write and read back")
    parser.add_argument("--proto-dir", default=PROTO_DIR, help="Trellis' proto/ folder")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    args = parser.parse_args()

    out_dir = tempfile.mkdtemp(prefix="trellis-py-")
    try:
        generate_stubs(args.proto_dir, out_dir)
        from trellis.block.v1 import block_pb2, block_pb2_grpc
        from trellis.manager.v1 import manager_pb2, manager_pb2_grpc
        from trellis.power.v1 import power_pb2, power_pb2_grpc

        result = {}
        say = (lambda *a: None) if args.json else print
        manager = grpc.insecure_channel(args.endpoint)
        power = power_pb2_grpc.PowerStub(manager)

        # A wake lease is held while its stream is open: the first event says
        # it is granted.
        lease = power.AcquireWakeLease(power_pb2.AcquireWakeLeaseRequest(name="python-example"))
        granted = next(lease)
        result["lease_id"] = granted.granted.lease_id
        say(f"wake lease {granted.granted.lease_id} held")
        try:
            refused = power.Suspend(power_pb2.SuspendRequest(), timeout=10)
            raise SystemExit(f"the suspend was not refused: {refused}")
        except grpc.RpcError as error:
            result["suspend_while_held"] = error.code().name
            say(f"suspend while held: {error.code().name}")

        bound = manager_pb2_grpc.DriverManagerStub(manager).Bind(
            manager_pb2.BindRequest(node_path=args.node, protocol="trellis.block.v1.Block"),
            timeout=10)
        token = [("trellis-token", bound.token)]
        block = block_pb2_grpc.BlockStub(grpc.insecure_channel(bound.endpoint))
        info = block.GetInfo(block_pb2.GetInfoRequest(), metadata=token, timeout=10).info
        result["block_size"] = info.block_size
        result["block_count"] = info.block_count
        say(f"bound {args.node}: {info.block_count} blocks of {info.block_size} bytes")

        data = bytes((args.block + i) % 256 for i in range(info.block_size))
        block.Write(block_pb2.WriteRequest(offset_blocks=args.block, data=data), metadata=token,
                    timeout=10)
        read = block.Read(block_pb2.ReadRequest(offset_blocks=args.block, length_blocks=1),
                          metadata=token, timeout=10).data
        result["read_back_matches"] = read == data
        say(f"wrote and read back block {args.block}: {'same' if read == data else 'DIFFERENT'}")

        lease.cancel()  # Closing the stream releases the lease.
        say("wake lease released")
        if args.json:
            print(json.dumps(result, sort_keys=True))
        return 0 if read == data else 1
    except grpc.RpcError as error:
        print(f"block_client: {error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
