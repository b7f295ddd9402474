// The Client over gRPC: one channel per client, each call with a deadline.
#include "client/transports.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "proto/inference.grpc.pb.h"

namespace convd::client {
namespace {

class GrpcClient final : public Client {
 public:
  GrpcClient(const ServerUrl& url, const ClientOptions& options)
      : address_(url.Authority()),
        timeout_(options.timeout),
        streaming_(options.streaming),
        headers_(options.headers) {
    grpc::ChannelArguments arguments;
    arguments.SetMaxReceiveMessageSize(options.max_message_bytes);
    arguments.SetMaxSendMessageSize(options.max_message_bytes);
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    if (options.tls.enabled) {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = options.tls.root_certs;
      ssl.pem_private_key = options.tls.private_key;
      ssl.pem_cert_chain = options.tls.cert_chain;
      credentials = grpc::SslCredentials(ssl);
    }
    stub_ = inference::GRPCInferenceService::NewStub(
        grpc::CreateCustomChannel(address_, credentials, arguments));
  }

  ~GrpcClient() override {
    if (stream_ != nullptr) CloseStream().IgnoreError();
  }

  absl::StatusOr<bool> ServerLive() override {
    inference::ServerLiveResponse response;
    if (auto s = Call(&Stub::ServerLive, inference::ServerLiveRequest(), &response); !s.ok()) {
      return s;
    }
    return response.live();
  }

  absl::StatusOr<bool> ServerReady() override {
    inference::ServerReadyResponse response;
    if (auto s = Call(&Stub::ServerReady, inference::ServerReadyRequest(), &response); !s.ok()) {
      return s;
    }
    return response.ready();
  }

  absl::StatusOr<bool> ModelReady(const std::string& model, const std::string& version) override {
    inference::ModelReadyRequest request;
    request.set_name(model);
    request.set_version(version);
    inference::ModelReadyResponse response;
    if (auto s = Call(&Stub::ModelReady, request, &response); !s.ok()) return s;
    return response.ready();
  }

  absl::StatusOr<inference::ServerMetadataResponse> ServerMetadata() override {
    return Get(&Stub::ServerMetadata, inference::ServerMetadataRequest());
  }

  absl::StatusOr<inference::RepositoryIndexResponse> RepositoryIndex() override {
    return Get(&Stub::RepositoryIndex, inference::RepositoryIndexRequest());
  }

  absl::StatusOr<inference::ModelMetadataResponse> ModelMetadata(
      const std::string& model, const std::string& version) override {
    inference::ModelMetadataRequest request;
    request.set_name(model);
    request.set_version(version);
    return Get(&Stub::ModelMetadata, request);
  }

  absl::StatusOr<inference::ModelConfig> ModelConfig(const std::string& model,
                                                     const std::string& version) override {
    inference::ModelConfigRequest request;
    request.set_name(model);
    request.set_version(version);
    auto response = Get(&Stub::ModelConfig, request);
    if (!response.ok()) return response.status();
    return response->config();
  }

  absl::StatusOr<inference::ModelStatisticsResponse> ModelStatistics(
      const std::string& model, const std::string& version) override {
    inference::ModelStatisticsRequest request;
    request.set_name(model);
    request.set_version(version);
    return Get(&Stub::ModelStatistics, request);
  }

  absl::StatusOr<inference::ModelInferResponse> Infer(
      const inference::ModelInferRequest& request) override {
    if (streaming_) return StreamInfer(request);
    return Get(&Stub::ModelInfer, request);
  }

  absl::Status LoadModel(const std::string& model, const std::string& config_json) override {
    inference::RepositoryModelLoadRequest request;
    request.set_model_name(model);
    if (!config_json.empty())
      (*request.mutable_parameters())["config"].set_string_param(config_json);
    inference::RepositoryModelLoadResponse response;
    return Call(&Stub::RepositoryModelLoad, request, &response);
  }

  absl::Status UnloadModel(const std::string& model) override {
    inference::RepositoryModelUnloadRequest request;
    request.set_model_name(model);
    inference::RepositoryModelUnloadResponse response;
    return Call(&Stub::RepositoryModelUnload, request, &response);
  }

  absl::Status RegisterSystemSharedMemory(const std::string& name, const std::string& key,
                                          uint64_t offset, uint64_t byte_size) override {
    inference::SystemSharedMemoryRegisterRequest request;
    request.set_name(name);
    request.set_key(key);
    request.set_offset(offset);
    request.set_byte_size(byte_size);
    inference::SystemSharedMemoryRegisterResponse response;
    return Call(&Stub::SystemSharedMemoryRegister, request, &response);
  }

  absl::Status UnregisterSystemSharedMemory(const std::string& name) override {
    inference::SystemSharedMemoryUnregisterRequest request;
    request.set_name(name);
    inference::SystemSharedMemoryUnregisterResponse response;
    return Call(&Stub::SystemSharedMemoryUnregister, request, &response);
  }

 private:
  using Stub = inference::GRPCInferenceService::Stub;

  template <typename Request, typename Response>
  absl::Status Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout_);
    AddHeaders(context);
    return FromGrpc((stub_.get()->*method)(&context, request, response));
  }

  void AddHeaders(grpc::ClientContext& context) const {
    for (const auto& [name, value] : headers_) context.AddMetadata(name, value);
  }

  absl::Status FromGrpc(const grpc::Status& status) const {
    if (status.ok()) return absl::OkStatus();
    const auto code = static_cast<absl::StatusCode>(status.error_code());
    if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded) {
      // gRPC's own texts ("failed to connect to all addresses") do not say where.
      return absl::Status(code, absl::StrCat("convd at grpc://", address_, ": ",
                                             status.error_message()));
    }
    return absl::Status(code, status.error_message());
  }

  absl::StatusOr<inference::ModelInferResponse> StreamInfer(
      const inference::ModelInferRequest& request) {
    using Clock = std::chrono::system_clock;
    if (stream_ != nullptr && Clock::now() - stream_opened_ > timeout_ / 2) {
      if (absl::Status s = CloseStream(); !s.ok()) return s;
    }
    if (stream_ == nullptr) {
      stream_context_ = std::make_unique<grpc::ClientContext>();
      stream_opened_ = Clock::now();
      stream_context_->set_deadline(stream_opened_ + timeout_);
      AddHeaders(*stream_context_);
      stream_ = stub_->ModelStreamInfer(stream_context_.get());
    }
    inference::ModelStreamInferResponse answer;
    if (!stream_->Write(request) || !stream_->Read(&answer)) {
      const grpc::Status status = stream_->Finish();
      stream_.reset();
      return FromGrpc(
          status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server ended the stream")
                      : status);
    }
    if (!answer.error_message().empty()) return absl::UnknownError(answer.error_message());
    return std::move(*answer.mutable_infer_response());
  }

  absl::Status CloseStream() {
    stream_->WritesDone();
    inference::ModelStreamInferResponse unexpected;
    while (stream_->Read(&unexpected)) {
    }
    const grpc::Status status = stream_->Finish();
    stream_.reset();
    return FromGrpc(status);
  }

  template <typename Request, typename Response>
  absl::StatusOr<Response> Get(
      grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
      const Request& request) {
    Response response;
    if (absl::Status s = Call(method, request, &response); !s.ok()) return s;
    return response;
  }

  std::string address_;
  std::chrono::milliseconds timeout_;
  bool streaming_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::unique_ptr<Stub> stub_;
  // The open ModelStreamInfer stream, when streaming.
  std::unique_ptr<grpc::ClientContext> stream_context_;
  std::chrono::system_clock::time_point stream_opened_;
  std::unique_ptr<
      grpc::ClientReaderWriter<inference::ModelInferRequest, inference::ModelStreamInferResponse>>
      stream_;
};

}  // namespace

std::unique_ptr<Client> CreateGrpcClient(const ServerUrl& url, const ClientOptions& options) {
  return std::make_unique<GrpcClient>(url, options);
}

}  // namespace convd::client
