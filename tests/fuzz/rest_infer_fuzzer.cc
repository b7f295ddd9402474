// libFuzzer target for the REST inference body parser: the JSON and the
// binary tensor data extension. The first two bytes choose the
// Inference-Header-Content-Length (none, or an offset into the body), the
// rest is the body. Any input parses or fails with a Status; a parsed one
// must also encode a response. Built with clang (make fuzz-rest).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "server/http/infer_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint16_t selector = static_cast<uint16_t>(data[0] | (data[1] << 8));
  const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  std::optional<uint64_t> json_size;
  if (selector != 0xFFFF) json_size = selector;  // may exceed the body: must be refused
  auto parsed = convd::ParseRestInferRequest(body, json_size, "m", "1");
  if (parsed.ok()) {
    inference::ModelInferResponse response;
    response.set_model_name("m");
    for (int i = 0; i < parsed->request.inputs_size(); ++i) {
      auto* output = response.add_outputs();
      output->set_name(parsed->request.inputs(i).name());
      output->set_datatype(parsed->request.inputs(i).datatype());
      *output->mutable_shape() = parsed->request.inputs(i).shape();
      response.add_raw_output_contents(parsed->request.raw_input_contents(i));
    }
    (void)convd::WriteRestInferResponse(*parsed, response);
  }
  return 0;
}
