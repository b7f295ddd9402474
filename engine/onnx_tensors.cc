#include "engine/onnx_tensors.h"

#include <limits>

#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/numbers.h"
#include "engine/file_util.h"
#include "engine/status_macros.h"

namespace convd::onnx_import {
namespace {

namespace fs = std::filesystem;
using onnx::NodeProto;
using onnx::TensorProto;

absl::StatusOr<std::string> ReadExternal(const TensorProto& tensor,
                                         const std::string& model_directory) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& entry : tensor.external_data()) {
    if (entry.key() == "location") location = entry.value();
    const bool number_field = entry.key() == "offset" || entry.key() == "length";
    if (number_field &&
        !absl::SimpleAtoi(entry.value(), entry.key() == "offset" ? &offset : &length)) {
      return absl::InvalidArgumentError(absl::StrCat("initializer '", tensor.name(),
                                                     "': external data ", entry.key(), " '",
                                                     entry.value(), "' is not a number"));
    }
  }
  const fs::path relative = fs::path(location).lexically_normal();
  if (model_directory.empty() || location.empty() || relative.is_absolute() || relative.empty() ||
      *relative.begin() == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat("initializer '", tensor.name(), "': external data '", location,
                     "' must be a relative path inside the model directory"));
  }
  // Reads only this tensor's range: one external file holds every tensor.
  auto data = ReadFileRange((fs::path(model_directory) / relative).string(), offset, length);
  if (!data.ok()) {
    return absl::Status(data.status().code(),
                        absl::StrCat("initializer '", tensor.name(), "': external data '",
                                     location, "': ", data.status().message()));
  }
  return data;
}

}  // namespace

const onnx::AttributeProto* FindAttribute(const NodeProto& node, const std::string& name) {
  for (const auto& attribute : node.attribute()) {
    if (attribute.name() == name) return &attribute;
  }
  return nullptr;
}

int64_t IntAttribute(const NodeProto& node, const std::string& name, int64_t fallback) {
  const auto* a = FindAttribute(node, name);
  return a != nullptr ? a->i() : fallback;
}

float FloatAttribute(const NodeProto& node, const std::string& name, float fallback) {
  const auto* a = FindAttribute(node, name);
  return a != nullptr ? a->f() : fallback;
}

std::vector<int64_t> IntsAttribute(const NodeProto& node, const std::string& name) {
  const auto* a = FindAttribute(node, name);
  return a != nullptr ? std::vector<int64_t>(a->ints().begin(), a->ints().end())
                      : std::vector<int64_t>();
}

std::string StringAttribute(const NodeProto& node, const std::string& name,
                            const std::string& fallback) {
  const auto* a = FindAttribute(node, name);
  return a != nullptr ? a->s() : fallback;
}

int64_t Elements(const std::vector<int64_t>& shape) {
  constexpr int64_t kSaturated = std::numeric_limits<int64_t>::max();
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && count > kSaturated / d) return kSaturated;  // found by fuzzing
    count *= d;
  }
  return count;
}

absl::StatusOr<NamedTensor> DecodeFloatTensor(const TensorProto& tensor,
                                              const std::string& model_directory) {
  NamedTensor out;
  out.dtype = "F32";
  out.shape.assign(tensor.dims().begin(), tensor.dims().end());
  for (int64_t d : out.shape) {
    if (d < 0 || d > (int64_t{1} << 31)) {
      return absl::InvalidArgumentError(
          absl::StrCat("initializer '", tensor.name(), "' has a bad dimension ", d));
    }
  }
  const int64_t count = Elements(out.shape);
  std::string raw;
  if (tensor.data_location() == TensorProto::EXTERNAL) {
    ASSIGN_OR_RETURN(raw, ReadExternal(tensor, model_directory));
  } else {
    raw = tensor.raw_data();
  }
  const bool is_double = tensor.data_type() == TensorProto::DOUBLE;
  if (tensor.data_type() != TensorProto::FLOAT && !is_double) {
    return absl::UnimplementedError(absl::StrCat(
        "initializer '", tensor.name(), "' has data type ",
        TensorProto::DataType_Name(static_cast<TensorProto::DataType>(tensor.data_type())),
        "; convd takes FLOAT weights"));
  }
  // The count is checked against the data before anything is allocated:
  // a header may claim any shape (found by fuzzing).
  const size_t element = is_double ? 8 : 4;
  if (!raw.empty() || count == 0) {
    if (static_cast<uint64_t>(count) > raw.size() / element ||
        raw.size() != static_cast<size_t>(count) * element) {
      return absl::InvalidArgumentError(absl::StrCat("initializer '", tensor.name(), "' holds ",
                                                     raw.size(), " bytes for ", count,
                                                     " elements"));
    }
  } else if ((is_double ? tensor.double_data_size() : tensor.float_data_size()) != count) {
    return absl::InvalidArgumentError(
        absl::StrCat("initializer '", tensor.name(), "' has ",
                     std::max(tensor.float_data_size(), tensor.double_data_size()),
                     " values for shape [", absl::StrJoin(out.shape, ", "), "]"));
  }
  out.values.resize(count);
  if (!raw.empty() || count == 0) {
    for (int64_t i = 0; i < count; ++i) {
      if (is_double) {
        double v;
        std::memcpy(&v, raw.data() + i * 8, 8);
        out.values[i] = static_cast<float>(v);
      } else {
        std::memcpy(&out.values[i], raw.data() + i * 4, 4);
      }
    }
  } else if (!is_double && tensor.float_data_size() == count) {
    std::copy(tensor.float_data().begin(), tensor.float_data().end(), out.values.begin());
  } else if (is_double && tensor.double_data_size() == count) {
    std::copy(tensor.double_data().begin(), tensor.double_data().end(), out.values.begin());
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("initializer '", tensor.name(), "' has ",
                     std::max(tensor.float_data_size(), tensor.double_data_size()),
                     " values for shape [", absl::StrJoin(out.shape, ", "), "]"));
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> DecodeInt64Tensor(const TensorProto& tensor) {
  const int64_t count = Elements(std::vector<int64_t>(tensor.dims().begin(), tensor.dims().end()));
  if (tensor.data_type() != TensorProto::INT64 || count < 0 || count > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", tensor.name(), "' must be a small INT64 tensor"));
  }
  std::vector<int64_t> values(count);
  if (tensor.raw_data().size() == static_cast<size_t>(count) * 8) {
    if (count > 0) std::memcpy(values.data(), tensor.raw_data().data(), count * 8);
  } else if (tensor.int64_data_size() == count) {
    std::copy(tensor.int64_data().begin(), tensor.int64_data().end(), values.begin());
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", tensor.name(), "' has the wrong number of values"));
  }
  return values;
}

}  // namespace convd::onnx_import
