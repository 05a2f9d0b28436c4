// Reads the shared test vectors (../shared/testdata/*.tsv): tab-separated,
// '#' comment lines, one header line naming the columns.
#ifndef SILD_TESTS_TESTING_TEST_VECTORS_H_
#define SILD_TESTS_TESTING_TEST_VECTORS_H_

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"

namespace sild::testing {

using Row = std::map<std::string, std::string>;

// Rows of `path`, keyed by column name. An unreadable file yields no rows;
// callers assert on the count so a missing file fails the test.
inline std::vector<Row> ReadTsv(const std::string& path) {
  std::ifstream in(path);
  std::vector<Row> rows;
  std::vector<std::string> header;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cells = absl::StrSplit(line, '\t');
    if (header.empty()) {
      header = cells;
      continue;
    }
    Row row;
    for (size_t i = 0; i < header.size() && i < cells.size(); ++i) {
      row[header[i]] = cells[i];
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

inline std::string SharedPath(const std::string& relative) {
  return std::string(SILD_SHARED_DIR) + "/" + relative;
}

}  // namespace sild::testing

#endif  // SILD_TESTS_TESTING_TEST_VECTORS_H_
