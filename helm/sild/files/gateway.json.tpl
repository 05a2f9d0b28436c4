{{- /*
The gateway's configuration (sild.config.v1.GatewayConfig, proto3 JSON),
rendered by templates/configmap.yaml with `tpl`.

Keep to the small subset that tests/helm/check_gateway_config.py evaluates
without Helm: actions `toJson .Values.<path>`, `if .Values.<path>`,
`if eq .Values.<path> "text"`, `else`, `end` (each may trim with `-`) and
comments.

Paths are fixed: templates/deployment.yaml mounts each Secret there.
@SILD_INSTANCE_NAME@ is replaced with the pod name when the container starts
(the audit chain id must differ per replica); '@' is not allowed in an
instance name, so a config that skipped the substitution fails to load.
*/ -}}
{
  "listenAddress": "0.0.0.0:7443",
  "instanceName": "@SILD_INSTANCE_NAME@",
  "enableReflection": {{ toJson .Values.gateway.enableReflection }},
  "tls": {
    "serverCertFile": "/etc/sild/tls/tls.crt",
    "serverKeyFile": "/etc/sild/tls/tls.key",
    "clientCaFile": "/etc/sild/federation-ca/ca.crt",
{{- if .Values.secrets.crl.enabled }}
    "crlDirectory": "/etc/sild/crl",
{{- end }}
    "trustDomain": {{ toJson .Values.gateway.trustDomain }}
  },
  "store": {
{{- if eq .Values.store.type "sqlite" }}
    "sqlite": {
      "path": "/var/lib/sild/sild.db",
      "busyTimeoutMs": {{ toJson .Values.store.sqlite.busyTimeoutMs }}
    },
{{- else }}
    "postgres": { "dsnFile": "/etc/sild/postgres/dsn" },
{{- end }}
    "payloadKeyFile": "/etc/sild/payload-key/payload.key"
  },
  "audit": {
    "signingKeyFile": "/etc/sild/audit-signing-key/signing.key",
    "pseudonymKeyFile": "/etc/sild/pseudonym-key/pseudonym.key",
    "checkpointEveryRecords": {{ toJson .Values.gateway.audit.checkpointEveryRecords }},
    "checkpointEveryMs": {{ toJson .Values.gateway.audit.checkpointEveryMs }}
  },
  "agencies": {{ toJson .Values.gateway.agencies }},
  "routes": {{ toJson .Values.gateway.routes }},
  "rules": {{ toJson .Values.gateway.rules }},
  "consentPolicy": {{ toJson .Values.gateway.consentPolicy }},
  "limits": {{ toJson .Values.gateway.limits }},
  "delivery": {{ toJson .Values.gateway.delivery }},
  "deadlines": {{ toJson .Values.gateway.deadlines }},
  "logging": {{ toJson .Values.gateway.logging }}
}
