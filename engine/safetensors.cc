#include "engine/safetensors.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace convd {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100 << 20;  // as the reference loader

absl::Status Corrupt(absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("safetensors: ", message));
}

int64_t DtypeBytes(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" ||
      dtype == "F8_E5M2") {
    return 1;
  }
  return 0;
}

}  // namespace

absl::StatusOr<TensorMap> ParseSafetensors(std::string_view bytes) {
  if (bytes.size() < 8) {
    return Corrupt(absl::StrCat("file is ", bytes.size(),
                                " bytes; too short for the 8-byte header length"));
  }
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) {
    header_bytes = header_bytes << 8 | static_cast<uint8_t>(bytes[i]);
  }
  if (header_bytes > kMaxHeaderBytes || header_bytes > bytes.size() - 8) {
    return Corrupt(absl::StrCat("header length ", header_bytes, " exceeds the file (",
                                bytes.size(), " bytes)"));
  }
  const std::string_view data = bytes.substr(8 + header_bytes);
  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, header_bytes),
                                                nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return Corrupt("header is not a JSON object");
  }
  TensorMap tensors;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto& item : header.items()) {
    // Named, not a structured binding: clang 14 (the fuzz build) cannot
    // capture those in the lambda below.
    const std::string& name = item.key();
    auto& entry = item.value();
    if (name == "__metadata__") continue;
    auto error = [&](absl::string_view what) {
      return Corrupt(absl::StrCat("tensor '", name, "': ", what));
    };
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets") || !entry["dtype"].is_string() ||
        !entry["shape"].is_array() || !entry["data_offsets"].is_array() ||
        entry["data_offsets"].size() != 2) {
      return error("needs dtype (string), shape (array) and data_offsets ([begin, end])");
    }
    NamedTensor tensor;
    tensor.dtype = entry["dtype"].get<std::string>();
    const int64_t element_bytes = DtypeBytes(tensor.dtype);
    if (element_bytes == 0) return error(absl::StrCat("unknown dtype '", tensor.dtype, "'"));
    uint64_t elements = 1;
    for (const auto& dim : entry["shape"]) {
      if (!dim.is_number_unsigned() || dim.get<uint64_t>() > (uint64_t{1} << 40)) {
        return error("shape entries must be non-negative integers");
      }
      tensor.shape.push_back(static_cast<int64_t>(dim.get<uint64_t>()));
      elements *= dim.get<uint64_t>();
      if (elements > (uint64_t{1} << 40)) return error("shape is too large");
    }
    const auto& offsets = entry["data_offsets"];
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned()) {
      return error("data_offsets must be non-negative integers");
    }
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (begin > end || end > data.size()) {
      return error(absl::StrCat("data_offsets [", begin, ", ", end,
                                "] lie outside the data (", data.size(),
                                " bytes): truncated file?"));
    }
    if (end - begin != elements * element_bytes) {
      return error(absl::StrCat("data_offsets span ", end - begin, " bytes but shape needs ",
                                elements * element_bytes));
    }
    ranges.emplace_back(begin, end);
    if (tensor.dtype == "F32") {
      tensor.values.resize(elements);
      // safetensors data is little-endian, as is every target of convd.
      if (end > begin) std::memcpy(tensor.values.data(), data.data() + begin, end - begin);
    }
    tensors.emplace(name, std::move(tensor));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) return Corrupt("tensor data ranges overlap");
  }
  return tensors;
}

std::string SerializeSafetensors(const TensorMap& tensors) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    const uint64_t size = tensor.values.size() * sizeof(float);
    header[name] = {{"dtype", "F32"},
                    {"shape", tensor.shape},
                    {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  std::string header_text = header.dump();
  // Pad with spaces to 8-byte alignment, as the reference writer does.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const uint64_t header_bytes = header_text.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(header_bytes >> (8 * i));
  out += header_text;
  for (const auto& [name, tensor] : tensors) {
    out.append(reinterpret_cast<const char*>(tensor.values.data()),
               tensor.values.size() * sizeof(float));
  }
  return out;
}

}  // namespace convd
