// WriterConsentCache: the consents of recently decided subjects, kept by the
// store's writer so that deciding a message does not read and unseal the
// same consents again for every message about the same child.
//
// Only valid while this process's writer is the only one writing consents:
// the SQLite store (one gateway per database file). On PostgreSQL another
// replica may grant or withdraw at any time, so the consent module does not
// use it there.
//
// Every consent write on the writer (ConsentRegistry::Grant, Withdraw)
// clears it before writing; a request or batch that rolls back clears it
// too (what it cached may have seen that request's own writes). It is a
// TxnParticipant for that reason: register it with the writer before the
// store starts. Used on the writer thread only; not thread-safe.
#ifndef SILD_GATEWAY_CONSENT_WRITER_CONSENT_CACHE_H_
#define SILD_GATEWAY_CONSENT_WRITER_CONSENT_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "gateway/store/group_commit.h"
#include "sild/v1/consent.pb.h"

namespace sild {

class WriterConsentCache final : public TxnParticipant {
 public:
  // At most `capacity` subjects; the oldest entry goes first.
  explicit WriterConsentCache(size_t capacity = 4096) : capacity_(capacity) {}

  // The subject's consents as last read, or nullopt.
  std::optional<std::vector<sild::v1::Consent>> Find(
      absl::string_view personal_code);
  void Put(absl::string_view personal_code,
           std::vector<sild::v1::Consent> consents);
  void Clear();

  size_t size() const { return entries_.size(); }
  int64_t hits() const { return hits_; }
  int64_t misses() const { return misses_; }

  // TxnParticipant
  void AbortRequest() override { Clear(); }
  void AfterRollback() override { Clear(); }

 private:
  const size_t capacity_;
  absl::flat_hash_map<std::string, std::vector<sild::v1::Consent>> entries_;
  std::deque<std::string> order_;  // insertion order, for eviction
  int64_t hits_ = 0;
  int64_t misses_ = 0;
};

}  // namespace sild

#endif  // SILD_GATEWAY_CONSENT_WRITER_CONSENT_CACHE_H_
