#include "gateway/store/sql.h"

namespace sild {
namespace {
const std::string& EmptyString() {
  static const std::string* empty = new std::string();
  return *empty;
}
}  // namespace

int64_t SqlRow::Int(size_t i) const {
  if (const auto* v = std::get_if<int64_t>(&values_[i])) return *v;
  return 0;
}

const std::string& SqlRow::Text(size_t i) const {
  if (const auto* v = std::get_if<std::string>(&values_[i])) return *v;
  if (const auto* b = std::get_if<SqlBlob>(&values_[i])) return b->bytes;
  return EmptyString();
}

const std::string& SqlRow::Bytes(size_t i) const { return Text(i); }

}  // namespace sild
