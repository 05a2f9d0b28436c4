// Read-side queries over the audit trail in the store: filtered, paginated
// record listings and usage counts. The auditor service builds on these;
// they take a SqlConnection so they run inside Store::Read.
//
//   RecordFilter filter;
//   filter.subject_pseudonym = log->Pseudonym(code);
//   SILD_ASSIGN_OR_RETURN(RecordPage page,
//                         QueryRecords(sql, filter, QueryOrder::kNewestFirst,
//                                      100, /*after=*/std::nullopt));
//   std::string token = EncodePageToken(*page.next, order, filter);
//
// Pages are cut by the key (time, chain id, sequence) of the last record
// returned (keyset pagination), so records appended between two calls never
// shift or repeat a later page. A page token names that key, the order and a
// fingerprint of the filter; a token used with another filter or order is
// refused (INVALID_ARGUMENT, reason INVALID_PAGE_TOKEN, field page_token).
//
// Thread safety: free functions; the connection is the caller's.
#ifndef SILD_GATEWAY_AUDITSVC_AUDIT_QUERIES_H_
#define SILD_GATEWAY_AUDITSVC_AUDIT_QUERIES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/store/sql.h"
#include "sild/v1/audit.pb.h"

namespace sild::auditsvc {

inline constexpr int kDefaultPageSize = 100;
inline constexpr int kMaxPageSize = 1000;

// Every set member must match; unset members match anything.
struct RecordFilter {
  std::string subject_pseudonym;
  // Actor or counterparty registry code.
  std::string agency;
  int action = 0;
  int purpose = 0;
  int outcome = 0;
  // Record time in [since_ms, until_ms), Unix milliseconds.
  std::optional<int64_t> since_ms;
  std::optional<int64_t> until_ms;
  std::string message_id;
  std::string chain_id;
};

enum class QueryOrder { kNewestFirst, kOldestFirst };

// Where a page ended: the key of its last record.
struct PageCursor {
  int64_t time_ms = 0;
  std::string chain_id;
  int64_t sequence = 0;
};

struct RecordPage {
  std::vector<sild::v1::AuditRecord> records;
  // Set when more records follow.
  std::optional<PageCursor> next;
};

// Up to `page_size` records (1..kMaxPageSize) matching `filter`, in
// `order`, after `after` when given.
absl::StatusOr<RecordPage> QueryRecords(SqlConnection& sql,
                                        const RecordFilter& filter,
                                        QueryOrder order, int page_size,
                                        const std::optional<PageCursor>& after);

std::string EncodePageToken(const PageCursor& cursor, QueryOrder order,
                            const RecordFilter& filter);
absl::StatusOr<PageCursor> DecodePageToken(absl::string_view token,
                                           QueryOrder order,
                                           const RecordFilter& filter);

// Records counted by acting agency, action and outcome, ordered so.
struct UsageRow {
  std::string agency;
  int action = 0;
  int outcome = 0;
  int64_t count = 0;
};
absl::StatusOr<std::vector<UsageRow>> CountRecords(
    SqlConnection& sql, std::optional<int64_t> since_ms,
    std::optional<int64_t> until_ms, absl::string_view chain_id);

}  // namespace sild::auditsvc

#endif  // SILD_GATEWAY_AUDITSVC_AUDIT_QUERIES_H_
