#include "client/npy.h"

#include <cstring>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/file_util.h"
#include "server/core/datatype.h"

namespace convd::client {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

struct DtypeName {
  const char* descr;
  const char* datatype;
};
// One table for both directions. '<' little-endian; '|' byte-sized.
constexpr DtypeName kDtypes[] = {
    {"<f4", "FP32"},   {"<f8", "FP64"},   {"<f2", "FP16"},   {"|u1", "UINT8"},
    {"|i1", "INT8"},   {"<u2", "UINT16"}, {"<i2", "INT16"},  {"<u4", "UINT32"},
    {"<i4", "INT32"},  {"<u8", "UINT64"}, {"<i8", "INT64"},  {"|b1", "BOOL"},
};

// The value of 'key' in the header's Python dict literal, as text.
absl::StatusOr<std::string> DictValue(absl::string_view header, absl::string_view key,
                                      const std::string& name) {
  const std::string quoted = absl::StrCat("'", key, "':");
  const size_t at = header.find(quoted);
  if (at == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": .npy header has no '", key, "'"));
  }
  absl::string_view rest = absl::StripLeadingAsciiWhitespace(header.substr(at + quoted.size()));
  size_t end;
  if (absl::StartsWith(rest, "(")) {
    end = rest.find(')');
    if (end == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": unclosed shape tuple"));
    }
    ++end;
  } else {
    end = rest.find_first_of(",}");
    if (end == absl::string_view::npos) end = rest.size();
  }
  return std::string(absl::StripAsciiWhitespace(rest.substr(0, end)));
}

}  // namespace

absl::StatusOr<NpyArray> ParseNpy(std::string_view bytes, const std::string& name) {
  auto invalid = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not a usable .npy file: ", why));
  };
  if (bytes.size() < kMagicSize + 4 || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0) {
    return invalid("missing the \\x93NUMPY magic");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_length;
  size_t header_start;
  if (major == 1) {
    header_length = static_cast<unsigned char>(bytes[8]) |
                    (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return invalid("truncated header");
    header_length = 0;
    for (int i = 3; i >= 0; --i) {
      header_length = (header_length << 8) | static_cast<unsigned char>(bytes[8 + i]);
    }
    header_start = 12;
  } else {
    return invalid(absl::StrCat("format version ", major, " (1 to 3 are read)"));
  }
  if (header_length > bytes.size() - header_start) return invalid("truncated header");
  const absl::string_view header(bytes.data() + header_start, header_length);

  auto descr = DictValue(header, "descr", name);
  if (!descr.ok()) return descr.status();
  auto fortran = DictValue(header, "fortran_order", name);
  if (!fortran.ok()) return fortran.status();
  auto shape_text = DictValue(header, "shape", name);
  if (!shape_text.ok()) return shape_text.status();

  NpyArray array;
  std::string dtype(absl::StripPrefix(absl::StripSuffix(*descr, "'"), "'"));
  if (dtype.size() == 3 && dtype[0] == '=') dtype[0] = '<';  // native order on x86-64
  for (const DtypeName& d : kDtypes) {
    if (dtype == d.descr) array.datatype = d.datatype;
  }
  if (array.datatype.empty()) {
    return invalid(absl::StrCat("dtype ", dtype,
                                " (little-endian float, int, uint or bool are read)"));
  }
  if (*fortran != "False") return invalid("Fortran order (save a C-contiguous array)");
  absl::string_view dims = absl::StripSuffix(absl::StripPrefix(*shape_text, "("), ")");
  int64_t elements = 1;
  for (absl::string_view dim : absl::StrSplit(dims, ',', absl::SkipWhitespace())) {
    int64_t value;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(dim), &value) || value < 0) {
      return invalid(absl::StrCat("shape ", *shape_text));
    }
    if (value > 0 && elements > (int64_t{1} << 40) / value) return invalid("too many elements");
    array.shape.push_back(value);
    elements *= value;
  }
  const size_t data_start = header_start + header_length;
  const int64_t expected = elements * DatatypeBytes(array.datatype);
  if (static_cast<int64_t>(bytes.size() - data_start) != expected) {
    return invalid(absl::StrCat("shape (", absl::StrJoin(array.shape, ", "), ") of ",
                                array.datatype, " needs ", expected, " data bytes; the file has ",
                                bytes.size() - data_start));
  }
  array.data.assign(bytes.substr(data_start));
  return array;
}

absl::StatusOr<NpyArray> ReadNpy(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  return ParseNpy(*bytes, path);
}

std::string SerializeNpy(const NpyArray& array) {
  const char* descr = "<f4";
  for (const DtypeName& d : kDtypes) {
    if (array.datatype == d.datatype) descr = d.descr;
  }
  std::string shape = absl::StrJoin(array.shape, ", ");
  if (array.shape.size() == 1) shape += ",";
  std::string header =
      absl::StrCat("{'descr': '", descr, "', 'fortran_order': False, 'shape': (", shape, "), }");
  // Pad with spaces so the data starts on a 64-byte boundary, newline last.
  const size_t unpadded = kMagicSize + 4 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string out(kMagic, kMagicSize);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out += array.data;
  return out;
}

absl::Status WriteNpy(const std::string& path, const NpyArray& array) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  const std::string bytes = SerializeNpy(array);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!file) return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

void AddInput(const std::string& name, NpyArray array, inference::ModelInferRequest& request) {
  auto* tensor = request.add_inputs();
  tensor->set_name(name);
  tensor->set_datatype(array.datatype);
  for (int64_t d : array.shape) tensor->add_shape(d);
  *request.add_raw_input_contents() = std::move(array.data);
}

}  // namespace convd::client
