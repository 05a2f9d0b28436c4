#include "gateway/exchange/withdrawal_notices.h"

#include "absl/strings/str_cat.h"
#include "gateway/base/log.h"
#include "gateway/base/proto_time.h"
#include "gateway/base/status_macros.h"
#include "gateway/base/thread_name.h"

namespace sild::exchange {

absl::StatusOr<int> WithdrawalNoticeSender::SendPending(int limit) {
  // Look before taking the write lock: almost always there is nothing owed.
  bool any = false;
  SILD_RETURN_IF_ERROR(context_->store->Read([&](SqlConnection& sql) {
    auto pending = registry_.PendingWithdrawalNotices(sql, 1);
    if (!pending.ok()) return pending.status();
    any = !pending->empty();
    return absl::OkStatus();
  }));
  if (!any) return 0;
  int sent = 0;
  SILD_RETURN_IF_ERROR(
      context_->store->writer().Run([&](WriteTxn& txn) -> absl::Status {
        SILD_ASSIGN_OR_RETURN(
            auto pending, registry_.PendingWithdrawalNotices(txn.sql(), limit));
        for (const PendingWithdrawalNotice& owed : pending) {
          SILD_ASSIGN_OR_RETURN(auto consent,
                                registry_.Load(txn.sql(), owed.consent_id));
          const Agency* recipient =
              context_->directory->FindByRegistryCode(owed.recipient_code);
          const Agency* sender =
              consent ? context_->directory->FindByRegistryCode(
                            consent->recorded_by().registry_code())
                      : nullptr;
          if (recipient == nullptr || sender == nullptr) {
            // The agency left the federation's config: nobody to tell. Keep
            // the notice pending and say so; an operator decides.
            LogWarning("withdrawal notice undeliverable",
                       {{"consent_id", owed.consent_id},
                        {"recipient", owed.recipient_code}});
            continue;
          }
          DispatchRequest dispatch;
          std::string id = NewUuid();
          sild::v1::Envelope& envelope = dispatch.envelope;
          envelope.set_message_id(id);
          envelope.set_kind(sild::v1::MESSAGE_KIND_CONSENT_NOTICE);
          auto* notice = envelope.mutable_consent_withdrawal();
          *notice = owed.notice;
          auto* header = notice->mutable_header();
          header->set_message_id(id);
          *header->mutable_sender() = sender->ref;
          *header->add_recipients() = recipient->ref;
          header->set_purpose(consent->purposes_size() > 0
                                  ? consent->purposes(0)
                                  : sild::v1::PURPOSE_CASE_MANAGEMENT);
          *header->mutable_created_time() = ToProtoTime(txn.now());
          header->set_schema_version("1.0");
          header->set_kind(sild::v1::MESSAGE_KIND_CONSENT_NOTICE);
          header->set_in_reply_to(owed.consent_id);
          dispatch.subject_personal_code = consent->subject().value();
          dispatch.recipients = {recipient};
          dispatch.sender = sender;
          dispatch.professional_id = "sild-gateway";
          dispatch.deliver_operational_on_deny = true;
          SILD_RETURN_IF_ERROR(Dispatch(txn, *context_, dispatch).status());
          SILD_RETURN_IF_ERROR(registry_.MarkWithdrawalNoticeQueued(
              txn, owed.consent_id, owed.recipient_code, id));
          ++sent;
        }
        return absl::OkStatus();
      }));
  if (sent > 0) {
    LogInfo("withdrawal notices queued", {{"count", absl::StrCat(sent)}});
  }
  return sent;
}

void WithdrawalNoticeSender::Start(absl::Duration interval) {
  thread_ = std::thread([this, interval] {
    NameThisThread("sild-withdrawal");
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
          return stopping_ || woken_;
        };
        mu_.AwaitWithTimeout(absl::Condition(&ready), interval);
        if (stopping_) return;
        woken_ = false;
      }
      absl::StatusOr<int> sent = SendPending();
      if (!sent.ok()) {
        LogWarning("withdrawal notices not sent",
                   {{"detail", std::string(sent.status().message())}});
      }
    }
  });
}

void WithdrawalNoticeSender::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void WithdrawalNoticeSender::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace sild::exchange
