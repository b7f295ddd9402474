// Column-aligned text tables for terminals: headers, a rule, rows; numeric
// cells right-aligned, text left-aligned.
//
//   TextTable table({"model", "version", "state"});
//   table.AddRow({"lenet5", "1", "READY"});
//   std::cout << table.Render();
#ifndef CONVD_CLIENT_TEXT_TABLE_H_
#define CONVD_CLIENT_TEXT_TABLE_H_

#include <string>
#include <vector>

namespace convd::client {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> headers);

  // Short rows are padded with empty cells; long ones are cut.
  void AddRow(std::vector<std::string> cells);
  // A rule before the next row (e.g. before a totals line).
  void AddRule();
  bool empty() const { return rows_.empty(); }

  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;  // an empty row is a rule
};

}  // namespace convd::client

#endif  // CONVD_CLIENT_TEXT_TABLE_H_
