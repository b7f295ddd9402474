"""cc_proto: C++ (and optionally gRPC) code from a .proto with the system protoc.

Debian's protoc and grpc_cpp_plugin run in a genrule, so no protobuf
sources are fetched. Generated headers are included as "proto/x.pb.h".
"""

def cc_proto(name, src, deps = [], imports = [], grpc = False, visibility = None):
    """imports: other .proto files this one imports (their cc_proto goes in deps)."""
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc"]
    cmd = "protoc -I. --cpp_out=$(GENDIR) $(location " + src + ")"
    if grpc:
        outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
        cmd += (" && protoc -I. --grpc_out=$(GENDIR)" +
                " --plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin $(location " + src + ")")
    native.genrule(
        name = name + "_protoc",
        srcs = [src] + imports,
        outs = outs,
        cmd = cmd,
        message = "protoc " + src,
    )
    native.cc_library(
        name = name,
        srcs = [base + ".pb.cc"] + ([base + ".grpc.pb.cc"] if grpc else []),
        hdrs = [base + ".pb.h"] + ([base + ".grpc.pb.h"] if grpc else []),
        deps = deps + ["//third_party:protobuf"] + (["//third_party:grpc"] if grpc else []),
        visibility = visibility,
    )
