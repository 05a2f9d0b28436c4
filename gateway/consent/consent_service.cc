#include "gateway/consent/consent_service.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gateway/base/errors.h"
#include "gateway/base/log.h"
#include "gateway/base/personal_code.h"
#include "gateway/base/registry_code.h"
#include "gateway/base/status_macros.h"
#include "gateway/consent/consent_id.h"
#include "gateway/consent/consent_time.h"
#include "gateway/consent/consent_validation.h"
#include "gateway/minimise/category_set.h"
#include "gateway/policy/rules.h"
#include "gateway/rpc/caller.h"
#include "gateway/rpc/grpc_status.h"

namespace sild {
namespace {

using sild::v1::Consent;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;
constexpr size_t kMaxNote = 2000;

absl::TimeZone EstonianTimeZone() {
  absl::TimeZone zone;
  if (absl::LoadTimeZone("Europe/Tallinn", &zone)) return zone;
  return absl::FixedTimeZone(2 * 60 * 60);
}

ConsentActor ActorOf(const Caller& caller) {
  return ConsentActor{caller.agency->ref, caller.professional_id};
}

absl::Status RequireRecorder(const Caller& caller, absl::string_view call) {
  if (caller.agency->HasRole(config::v1::AGENCY_ROLE_CONSENT_RECORDER)) {
    return absl::OkStatus();
  }
  LogWarning("consent change refused",
             {{"reason", "NOT_CONSENT_RECORDER"},
              {"call", std::string(call)},
              {"agency", caller.agency->ref.registry_code()}});
  return MakeError(absl::StatusCode::kPermissionDenied, "NOT_CONSENT_RECORDER",
                   "",
                   absl::StrCat("agency ", caller.agency->ref.registry_code(),
                                " does not have the consent recorder role"));
}

absl::Status CheckConsentId(absl::string_view id) {
  if (!LooksLikeConsentId(id)) {
    return InvalidField("INVALID_CONSENT_ID", "consent_id",
                        "a consent id is a lower-case UUID");
  }
  return absl::OkStatus();
}

// Page tokens: web-safe base64 of "<recorded_ms>:<consent_id>".
std::string EncodePageToken(const Consent& last) {
  return absl::WebSafeBase64Escape(absl::StrCat(
      consent_time::ToMillis(last.recorded_time()), ":", last.consent_id()));
}

absl::Status DecodePageToken(absl::string_view token, ConsentListQuery* query) {
  if (token.empty()) return absl::OkStatus();
  std::string plain;
  int64_t ms = 0;
  size_t colon = std::string::npos;
  if (absl::WebSafeBase64Unescape(token, &plain)) colon = plain.find(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(plain).substr(0, colon), &ms) ||
      !LooksLikeConsentId(absl::string_view(plain).substr(colon + 1))) {
    return InvalidField("INVALID_PAGE_TOKEN", "page_token",
                        "not a page token this gateway gave out");
  }
  query->after_recorded_ms = ms;
  query->after_consent_id = plain.substr(colon + 1);
  return absl::OkStatus();
}

// The consent as a reader sees it: expiry shown as a status.
Consent Presented(Consent consent, absl::Time now) {
  consent.set_status(EffectiveConsentStatus(consent, now));
  return consent;
}

}  // namespace

ConsentServiceImpl::ConsentServiceImpl(ConsentServiceDeps deps)
    : deps_(deps), zone_(EstonianTimeZone()) {}

absl::StatusOr<Consent> ConsentServiceImpl::LoadVisible(
    absl::string_view consent_id, const v1::AgencyRef& viewer) {
  SILD_RETURN_IF_ERROR(CheckConsentId(consent_id));
  std::optional<Consent> consent;
  SILD_RETURN_IF_ERROR(deps_.store->Read([&](SqlConnection& sql) {
    SILD_ASSIGN_OR_RETURN(consent, deps_.registry->Load(sql, consent_id));
    return absl::OkStatus();
  }));
  // A consent the caller may not see is answered exactly like a missing
  // one: its existence is not disclosed either.
  if (!consent || !ConsentRegistry::MaySee(*consent, viewer)) {
    return MakeError(absl::StatusCode::kNotFound, "CONSENT_NOT_FOUND",
                     "consent_id",
                     absl::StrCat("no consent ", consent_id,
                                  " that this agency recorded or receives"));
  }
  return *std::move(consent);
}

grpc::ServerUnaryReactor* ConsentServiceImpl::Grant(
    grpc::CallbackServerContext* context,
    const v1::GrantConsentRequest* request,
    v1::GrantConsentResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto fail = [&](const absl::Status& status) {
    reactor->Finish(ToGrpcStatus(status, context));
    return reactor;
  };
  absl::StatusOr<Caller> caller = AuthenticateCall(context, *deps_.directory);
  if (!caller.ok()) return fail(caller.status());
  absl::Status allowed = RequireRecorder(*caller, "Grant");
  if (!allowed.ok()) return fail(allowed);
  if (!request->has_consent()) {
    return fail(InvalidField("MISSING_CONSENT", "consent", "send a consent"));
  }
  absl::StatusOr<Consent> prepared =
      PrepareConsentGrant(request->consent(), deps_.config->consent_policy(),
                          deps_.clock->Now(), zone_);
  if (!prepared.ok()) return fail(prepared.status());

  auto result = std::make_shared<absl::StatusOr<ConsentChange>>(
      absl::UnknownError("not run"));
  const ConsentRegistry* registry = deps_.registry;
  ConsentActor actor = ActorOf(*caller);
  deps_.store->writer().Submit(
      [registry, result, actor,
       consent = *std::move(prepared)](WriteTxn& txn) -> absl::Status {
        *result = registry->Grant(txn, actor, consent);
        return result->status();
      },
      [reactor, context, response, result](absl::Status committed) {
        if (!committed.ok()) {
          reactor->Finish(ToGrpcStatus(committed, context));
          return;
        }
        ConsentChange& change = **result;
        LogInfo("consent granted",
                {{"consent_id", change.consent.consent_id()},
                 {"agency", change.consent.recorded_by().registry_code()}});
        *response->mutable_consent() = std::move(change.consent);
        response->set_audit_sequence(change.audit_record.sequence());
        response->set_audit_record_hash(change.audit_record.record_hash());
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ConsentServiceImpl::Withdraw(
    grpc::CallbackServerContext* context,
    const v1::WithdrawConsentRequest* request,
    v1::WithdrawConsentResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto fail = [&](const absl::Status& status) {
    reactor->Finish(ToGrpcStatus(status, context));
    return reactor;
  };
  absl::StatusOr<Caller> caller = AuthenticateCall(context, *deps_.directory);
  if (!caller.ok()) return fail(caller.status());
  absl::Status allowed = RequireRecorder(*caller, "Withdraw");
  if (!allowed.ok()) return fail(allowed);
  absl::Status valid = CheckConsentId(request->consent_id());
  if (!valid.ok()) return fail(valid);
  if (request->note().size() > kMaxNote) {
    return fail(InvalidField("FIELD_TOO_LONG", "note",
                             absl::StrCat("at most ", kMaxNote, " bytes")));
  }

  auto result = std::make_shared<absl::StatusOr<ConsentChange>>(
      absl::UnknownError("not run"));
  const ConsentRegistry* registry = deps_.registry;
  ConsentActor actor = ActorOf(*caller);
  deps_.store->writer().Submit(
      [registry, result, actor, id = request->consent_id(),
       note = request->note()](WriteTxn& txn) -> absl::Status {
        *result = registry->Withdraw(txn, actor, id, note);
        return result->status();
      },
      [reactor, context, response, result](absl::Status committed) {
        if (!committed.ok()) {
          reactor->Finish(ToGrpcStatus(committed, context));
          return;
        }
        ConsentChange& change = **result;
        LogInfo("consent withdrawn",
                {{"consent_id", change.consent.consent_id()},
                 {"pending_notices", absl::StrCat(change.pending_notices)}});
        *response->mutable_consent() = std::move(change.consent);
        response->set_pending_notices(change.pending_notices);
        response->set_audit_sequence(change.audit_record.sequence());
        response->set_audit_record_hash(change.audit_record.record_hash());
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ConsentServiceImpl::Get(
    grpc::CallbackServerContext* context, const v1::GetConsentRequest* request,
    Consent* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = [&]() -> absl::Status {
    SILD_ASSIGN_OR_RETURN(Caller caller,
                          AuthenticateCall(context, *deps_.directory));
    SILD_ASSIGN_OR_RETURN(Consent consent, LoadVisible(request->consent_id(),
                                                       caller.agency->ref));
    *response = Presented(std::move(consent), deps_.clock->Now());
    return absl::OkStatus();
  }();
  reactor->Finish(ToGrpcStatus(status, context));
  return reactor;
}

grpc::ServerUnaryReactor* ConsentServiceImpl::History(
    grpc::CallbackServerContext* context,
    const v1::ConsentHistoryRequest* request,
    v1::ConsentHistoryResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = [&]() -> absl::Status {
    SILD_ASSIGN_OR_RETURN(Caller caller,
                          AuthenticateCall(context, *deps_.directory));
    SILD_RETURN_IF_ERROR(
        LoadVisible(request->consent_id(), caller.agency->ref).status());
    std::vector<Consent> versions;
    SILD_RETURN_IF_ERROR(deps_.store->Read([&](SqlConnection& sql) {
      SILD_ASSIGN_OR_RETURN(
          versions, deps_.registry->LoadVersions(sql, request->consent_id()));
      return absl::OkStatus();
    }));
    for (Consent& version : versions) {
      *response->add_versions() = std::move(version);
    }
    return absl::OkStatus();
  }();
  reactor->Finish(ToGrpcStatus(status, context));
  return reactor;
}

grpc::ServerUnaryReactor* ConsentServiceImpl::List(
    grpc::CallbackServerContext* context,
    const v1::ListConsentsRequest* request,
    v1::ListConsentsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = [&]() -> absl::Status {
    SILD_ASSIGN_OR_RETURN(Caller caller,
                          AuthenticateCall(context, *deps_.directory));
    ConsentListQuery query;
    query.viewer = caller.agency->ref;
    switch (request->filter_case()) {
      case v1::ListConsentsRequest::kSubject: {
        const v1::PersonIdentifier& subject = request->subject();
        if (subject.scheme() != v1::IDENTIFIER_SCHEME_UNSPECIFIED &&
            subject.scheme() != v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE) {
          return InvalidField("UNSUPPORTED_IDENTIFIER_SCHEME", "subject.scheme",
                              "consents are kept by Estonian personal code");
        }
        SILD_ASSIGN_OR_RETURN(
            PersonalCode code,
            ParsePersonalCode(subject.value(), "subject.value"));
        query.subject_code = code.code;
        break;
      }
      case v1::ListConsentsRequest::kRecipientRegistryCode: {
        const std::string& code = request->recipient_registry_code();
        SILD_RETURN_IF_ERROR(
            ValidateRegistryCode(code, "recipient_registry_code"));
        query.recipient_code = code;
        if (const Agency* agency = deps_.directory->FindByRegistryCode(code)) {
          query.recipient_kind = agency->ref.kind();
        }
        break;
      }
      case v1::ListConsentsRequest::FILTER_NOT_SET:
        return InvalidField("MISSING_FILTER", "filter",
                            "list by subject or by recipient_registry_code");
    }
    if (request->page_size() < 0) {
      return InvalidField("INVALID_PAGE_SIZE", "page_size",
                          "page_size must not be negative");
    }
    query.limit = request->page_size() == 0
                      ? kDefaultPageSize
                      : std::min(request->page_size(), kMaxPageSize);
    SILD_RETURN_IF_ERROR(DecodePageToken(request->page_token(), &query));
    ConsentPage page;
    SILD_RETURN_IF_ERROR(deps_.store->Read([&](SqlConnection& sql) {
      SILD_ASSIGN_OR_RETURN(page, deps_.registry->List(sql, query));
      return absl::OkStatus();
    }));
    const absl::Time now = deps_.clock->Now();
    if (page.more && !page.consents.empty()) {
      response->set_next_page_token(EncodePageToken(page.consents.back()));
    }
    for (Consent& consent : page.consents) {
      *response->add_consents() = Presented(std::move(consent), now);
    }
    return absl::OkStatus();
  }();
  reactor->Finish(ToGrpcStatus(status, context));
  return reactor;
}

grpc::ServerUnaryReactor* ConsentServiceImpl::Check(
    grpc::CallbackServerContext* context,
    const v1::CheckConsentRequest* request,
    v1::CheckConsentResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto decision_request = std::make_shared<DecisionRequest>();
  absl::StatusOr<Caller> caller = AuthenticateCall(context, *deps_.directory);
  absl::Status status = [&]() -> absl::Status {
    SILD_RETURN_IF_ERROR(caller.status());
    const std::string& code = request->recipient_registry_code();
    SILD_RETURN_IF_ERROR(ValidateRegistryCode(code, "recipient_registry_code"));
    const Agency* recipient = deps_.directory->FindByRegistryCode(code);
    if (recipient == nullptr) {
      return InvalidField(
          "UNKNOWN_RECIPIENT", "recipient_registry_code",
          absl::StrCat("agency ", code, " is not configured on this gateway"));
    }
    if (request->purpose() == v1::PURPOSE_UNSPECIFIED ||
        !v1::Purpose_IsValid(request->purpose())) {
      return InvalidField("INVALID_PURPOSE", "purpose",
                          "name the purpose of the message");
    }
    if (request->message_kind() == v1::MESSAGE_KIND_UNSPECIFIED ||
        !v1::MessageKind_IsValid(request->message_kind())) {
      return InvalidField("INVALID_MESSAGE_KIND", "message_kind",
                          "name the kind of message");
    }
    const v1::PersonIdentifier& subject = request->subject();
    if (subject.scheme() != v1::IDENTIFIER_SCHEME_UNSPECIFIED &&
        subject.scheme() != v1::IDENTIFIER_SCHEME_EE_PERSONAL_CODE) {
      return InvalidField("UNSUPPORTED_IDENTIFIER_SCHEME", "subject.scheme",
                          "consents are kept by Estonian personal code");
    }
    SILD_ASSIGN_OR_RETURN(PersonalCode personal,
                          ParsePersonalCode(subject.value(), "subject.value"));
    CategorySet requested;
    for (int i = 0; i < request->categories_size(); ++i) {
      const int category = request->categories(i);
      if (!CategorySet::IsValid(category)) {
        return InvalidField("INVALID_CATEGORY",
                            absl::StrCat("categories[", i, "]"),
                            absl::StrCat("unknown or unspecified data "
                                         "category ",
                                         category));
      }
      requested.Add(category);
    }

    decision_request->sender = caller->agency->ref;
    decision_request->recipient = recipient->ref;
    decision_request->purpose = request->purpose();
    decision_request->subject_personal_code = personal.code;
    decision_request->message_kind = request->message_kind();
    decision_request->requested = requested;
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    reactor->Finish(ToGrpcStatus(status, context));
    return reactor;
  }

  // The answer is what the engine decides now (its reader fails closed:
  // a registry error is a DENY); the answer is given only once its audit
  // record is durable.
  decision_request->time = deps_.clock->Now();
  auto decision =
      std::make_shared<Decision>(deps_.decisions->Decide(*decision_request));
  const ConsentRegistry* registry = deps_.registry;
  ConsentActor actor = ActorOf(*caller);
  deps_.store->writer().Submit(
      [registry, actor, decision_request,
       decision](WriteTxn& txn) -> absl::Status {
        return registry->RecordCheck(txn, actor, *decision_request, *decision)
            .status();
      },
      [reactor, context, response, decision_request,
       decision](absl::Status committed) {
        if (!committed.ok()) {
          reactor->Finish(ToGrpcStatus(committed, context));
          return;
        }
        response->set_allow(decision->allow);
        response->set_reason_code(std::string(decision->reason_code()));
        response->set_sentence(decision->detail);
        // Unset on DENY: an empty basis message would read as "some basis".
        if (decision->basis.ByteSizeLong() > 0) {
          *response->mutable_basis() = decision->basis;
        }
        for (v1::DataCategory category : decision->permitted.ToVector()) {
          response->add_permitted_categories(category);
        }
        for (v1::DataCategory category : decision->denied.ToVector()) {
          response->add_denied_categories(category);
        }
        *response->mutable_decision_time() =
            consent_time::ToTimestamp(decision_request->time);
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* ConsentServiceImpl::ListRules(
    grpc::CallbackServerContext* context, const v1::ListRulesRequest* request,
    v1::ListRulesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = [&]() -> absl::Status {
    SILD_RETURN_IF_ERROR(AuthenticateCall(context, *deps_.directory).status());
    for (const config::v1::LegalBasisRule& rule : deps_.config->rules()) {
      if (!request->rule_id().empty() && rule.id() != request->rule_id()) {
        continue;
      }
      v1::LegalBasisRuleInfo* info = response->add_rules();
      info->set_id(rule.id());
      info->set_citation(rule.citation());
      info->set_description(rule.description());
      for (int kind : rule.sender_kinds())
        info->add_sender_kinds(static_cast<v1::AgencyKind>(kind));
      for (int kind : rule.recipient_kinds()) {
        info->add_recipient_kinds(static_cast<v1::AgencyKind>(kind));
      }
      for (int purpose : rule.purposes()) {
        info->add_purposes(static_cast<v1::Purpose>(purpose));
      }
      for (int kind : rule.message_kinds()) {
        info->add_message_kinds(static_cast<v1::MessageKind>(kind));
      }
      for (int category : rule.categories()) {
        info->add_categories(static_cast<v1::DataCategory>(category));
      }
      info->set_explanation(ExplainRule(rule));
    }
    if (!request->rule_id().empty() && response->rules().empty()) {
      return MakeError(
          absl::StatusCode::kNotFound, "RULE_NOT_FOUND", "rule_id",
          absl::StrCat("no rule \"", request->rule_id(), "\" is configured"));
    }
    return absl::OkStatus();
  }();
  reactor->Finish(ToGrpcStatus(status, context));
  return reactor;
}

}  // namespace sild
