#include "client/text_table.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"

namespace convd::client {
namespace {

// "12", "-3.5", "1.2e3", "45%", "12.0 ms": right-aligned.
bool LooksNumeric(const std::string& cell) {
  if (cell.empty()) return false;
  size_t i = cell[0] == '-' || cell[0] == '+' ? 1 : 0;
  if (i >= cell.size() || !std::isdigit(static_cast<unsigned char>(cell[i]))) return false;
  const size_t space = cell.find(' ');
  const std::string number = cell.substr(0, space);
  return number.find_first_not_of("0123456789.eE+-%x") == std::string::npos;
}

}  // namespace

TextTable::TextTable(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void TextTable::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

void TextTable::AddRule() { rows_.emplace_back(); }

std::string TextTable::Render() const {
  std::vector<size_t> widths(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) widths[c] = headers_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  size_t total = 0;
  for (size_t w : widths) total += w + 2;
  const std::string rule = std::string(total > 2 ? total - 2 : 0, '-') + "\n";
  auto line = [&](const std::vector<std::string>& cells, bool header) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string& cell = cells[c];
      const std::string pad(widths[c] - cell.size(), ' ');
      const bool last = c + 1 == cells.size();
      if (!header && LooksNumeric(cell)) {
        absl::StrAppend(&out, pad, cell);
      } else {
        absl::StrAppend(&out, cell, last ? "" : pad);
      }
      if (!last) out += "  ";
    }
    return out + "\n";
  };
  std::string out = line(headers_, true) + rule;
  for (const auto& row : rows_) out += row.empty() ? rule : line(row, false);
  return out;
}

}  // namespace convd::client
