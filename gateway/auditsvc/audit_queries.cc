#include "gateway/auditsvc/audit_queries.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gateway/audit/digest.h"
#include "gateway/base/errors.h"
#include "gateway/base/status_macros.h"

namespace sild::auditsvc {
namespace {

using sild::v1::AuditRecord;

// Appends the WHERE conditions of `filter` (with leading " AND ").
void AppendFilter(const RecordFilter& filter, std::string& where,
                  std::vector<SqlValue>& params) {
  if (!filter.subject_pseudonym.empty()) {
    where += " AND subject = ?";
    params.emplace_back(filter.subject_pseudonym);
  }
  if (!filter.agency.empty()) {
    where += " AND (actor = ? OR counterparty = ?)";
    params.emplace_back(filter.agency);
    params.emplace_back(filter.agency);
  }
  if (filter.action != 0) {
    where += " AND action = ?";
    params.emplace_back(int64_t{filter.action});
  }
  if (filter.purpose != 0) {
    where += " AND purpose = ?";
    params.emplace_back(int64_t{filter.purpose});
  }
  if (filter.outcome != 0) {
    where += " AND outcome = ?";
    params.emplace_back(int64_t{filter.outcome});
  }
  if (filter.since_ms) {
    where += " AND time_ms >= ?";
    params.emplace_back(*filter.since_ms);
  }
  if (filter.until_ms) {
    where += " AND time_ms < ?";
    params.emplace_back(*filter.until_ms);
  }
  if (!filter.message_id.empty()) {
    where += " AND message_id = ?";
    params.emplace_back(filter.message_id);
  }
  if (!filter.chain_id.empty()) {
    where += " AND chain_id = ?";
    params.emplace_back(filter.chain_id);
  }
}

// A short hash of the filter, so a token is not replayed against another.
std::string Fingerprint(const RecordFilter& filter, QueryOrder order) {
  std::string canonical =
      absl::StrCat(filter.subject_pseudonym, "\n", filter.agency, "\n",
                   filter.action, "\n", filter.purpose, "\n", filter.outcome,
                   "\n", filter.since_ms ? absl::StrCat(*filter.since_ms) : "-",
                   "\n", filter.until_ms ? absl::StrCat(*filter.until_ms) : "-",
                   "\n", filter.message_id, "\n", filter.chain_id, "\n",
                   order == QueryOrder::kNewestFirst ? "n" : "o");
  auto sha = audit::Sha256::Create();
  audit::Digest digest{};
  if (!sha.ok() || !sha->Hash(canonical, digest)) return "";
  return audit::ToHex(audit::AsBytes(digest)).substr(0, 16);
}

absl::Status BadToken(absl::string_view why) {
  return InvalidField(
      "INVALID_PAGE_TOKEN", "page_token",
      absl::StrCat("the page token ", why, "; start again without a token"));
}

}  // namespace

absl::StatusOr<RecordPage> QueryRecords(
    SqlConnection& sql, const RecordFilter& filter, QueryOrder order,
    int page_size, const std::optional<PageCursor>& after) {
  if (page_size < 1 || page_size > kMaxPageSize) {
    return InvalidField("INVALID_PAGE_SIZE", "page_size",
                        absl::StrCat("page_size must be 1..", kMaxPageSize));
  }
  std::string where = "1 = 1";
  std::vector<SqlValue> params;
  AppendFilter(filter, where, params);
  const bool newest = order == QueryOrder::kNewestFirst;
  const char* cmp = newest ? "<" : ">";
  if (after) {
    where +=
        absl::StrCat(" AND (time_ms ", cmp, " ? OR (time_ms = ? AND (chain_id ",
                     cmp, " ? OR (chain_id = ? AND sequence ", cmp, " ?))))");
    params.emplace_back(after->time_ms);
    params.emplace_back(after->time_ms);
    params.emplace_back(after->chain_id);
    params.emplace_back(after->chain_id);
    params.emplace_back(after->sequence);
  }
  const char* dir = newest ? "DESC" : "ASC";
  // One more than asked tells whether another page follows.
  params.emplace_back(int64_t{page_size} + 1);
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query(absl::StrCat("SELECT record, time_ms, chain_id, sequence FROM "
                             "audit_records WHERE ",
                             where, " ORDER BY time_ms ", dir, ", chain_id ",
                             dir, ", sequence ", dir, " LIMIT ?"),
                params));
  RecordPage page;
  const size_t take = std::min(rows.size(), static_cast<size_t>(page_size));
  page.records.reserve(take);
  for (size_t i = 0; i < take; ++i) {
    AuditRecord record;
    if (!record.ParseFromString(rows[i].Bytes(0))) {
      return MakeError(absl::StatusCode::kDataLoss, "AUDIT_CORRUPT", "",
                       "an audit record in the store cannot be parsed; run "
                       "`sildctl audit verify`");
    }
    page.records.push_back(std::move(record));
  }
  if (rows.size() > take && !page.records.empty()) {
    // The key columns, not the parsed record: the query ordered by them.
    const SqlRow& last = rows[take - 1];
    page.next = PageCursor{last.Int(1), last.Text(2), last.Int(3)};
  }
  return page;
}

std::string EncodePageToken(const PageCursor& cursor, QueryOrder order,
                            const RecordFilter& filter) {
  std::string plain =
      absl::StrCat("1\n", Fingerprint(filter, order), "\n", cursor.time_ms,
                   "\n", cursor.sequence, "\n", cursor.chain_id);
  std::string token;
  absl::WebSafeBase64Escape(plain, &token);
  return token;
}

absl::StatusOr<PageCursor> DecodePageToken(absl::string_view token,
                                           QueryOrder order,
                                           const RecordFilter& filter) {
  std::string plain;
  if (!absl::WebSafeBase64Unescape(token, &plain)) {
    return BadToken("is not one this gateway issued");
  }
  std::vector<std::string> parts =
      absl::StrSplit(plain, absl::MaxSplits('\n', 4));
  PageCursor cursor;
  if (parts.size() != 5 || parts[0] != "1" ||
      !absl::SimpleAtoi(parts[2], &cursor.time_ms) ||
      !absl::SimpleAtoi(parts[3], &cursor.sequence)) {
    return BadToken("is not one this gateway issued");
  }
  if (parts[1] != Fingerprint(filter, order)) {
    return BadToken("belongs to a query with other filters or order");
  }
  cursor.chain_id = parts[4];
  return cursor;
}

absl::StatusOr<std::vector<UsageRow>> CountRecords(
    SqlConnection& sql, std::optional<int64_t> since_ms,
    std::optional<int64_t> until_ms, absl::string_view chain_id) {
  RecordFilter filter;
  filter.since_ms = since_ms;
  filter.until_ms = until_ms;
  filter.chain_id = std::string(chain_id);
  std::string where = "1 = 1";
  std::vector<SqlValue> params;
  AppendFilter(filter, where, params);
  SILD_ASSIGN_OR_RETURN(
      auto rows,
      sql.Query(absl::StrCat("SELECT actor, action, outcome, COUNT(*) FROM "
                             "audit_records WHERE ",
                             where,
                             " GROUP BY actor, action, outcome"
                             " ORDER BY actor, action, outcome"),
                params));
  std::vector<UsageRow> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    out.push_back(UsageRow{row.Text(0), static_cast<int>(row.Int(1)),
                           static_cast<int>(row.Int(2)), row.Int(3)});
  }
  return out;
}

}  // namespace sild::auditsvc
