// A non-C++ client of sild-gateway: Node.js with @grpc/grpc-js and
// @grpc/proto-loader, loading the .proto files at run time exactly as any
// agency's Node code would, and calling the gateway over mutual TLS.
//
// Run by CTest (node_grpc_client_test) through run.sh, which installs the
// pinned packages into the build tree. Environment:
//   SILD_GATEWAY_BIN       the sild-gateway binary
//   SILD_PKI_DIR           a PKI made by certs/make-dev-pki.sh
//   SILD_SOURCE_DIR        the repository root (for proto/ and the demo config)
//   SILD_NODE_CLIENT_DIR   folder whose node_modules holds the packages
//                          (default: this file's folder)
//
// By hand:  cd tests/integration/node && npm ci && SILD_GATEWAY_BIN=... \
//           SILD_PKI_DIR=... SILD_SOURCE_DIR=../../.. node --test
//
// Written for Node 18 (Debian 12's nodejs) and later.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

// ESM ignores NODE_PATH, so the packages are loaded with a require() rooted
// at the folder where run.sh installed them.
const require = createRequire(
  path.join(process.env.SILD_NODE_CLIENT_DIR || here, 'package.json'));
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

function requireEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set (the test is meant to run from CTest: ` +
                    'ctest -R node_grpc_client_test)');
  }
  return value;
}

const gatewayBin = requireEnv('SILD_GATEWAY_BIN');
const pkiDir = requireEnv('SILD_PKI_DIR');
const sourceDir = requireEnv('SILD_SOURCE_DIR');
const protoDir = path.join(sourceDir, 'proto');

const SCHOOL_CODE = '75001017';
const CALL_TIMEOUT_MS = 10_000;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;

// Field names as written in the .proto files; enums as their names.
const LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [protoDir],
};

function loadPackage(files, includeDirs = [protoDir]) {
  const definition = protoLoader.loadSync(files, { ...LOADER_OPTIONS, includeDirs });
  return grpc.loadPackageDefinition(definition);
}

const sild = loadPackage('sild/v1/gateway_service.proto').sild.v1;
const health = loadPackage('grpc/health/v1/health.proto').grpc.health.v1;
const reflection = loadPackage('reflection_v1alpha.proto', [here])
  .grpc.reflection.v1alpha;

function read(name) {
  return fs.readFileSync(path.join(pkiDir, name));
}

// mTLS channel credentials for one agency certificate of the dev PKI.
function agencyCredentials(agency) {
  return grpc.credentials.createSsl(
    read('ca.crt'), read(`${agency}.key`), read(`${agency}.crt`));
}

// Connect to 127.0.0.1 but name the server "localhost" (a DNS SAN of
// gateway.crt) for SNI and the hostname check: an IP address as TLS server
// name is deprecated in Node (DEP0123).
const CHANNEL_OPTIONS = {
  'grpc.ssl_target_name_override': 'localhost',
  'grpc.default_authority': 'localhost',
};

function deadline() {
  return Date.now() + CALL_TIMEOUT_MS;
}

function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, new grpc.Metadata(), { deadline: deadline() },
      (error, response) => (error ? reject(error) : resolve(response)));
  });
}

// --- the gateway process --------------------------------------------------

// Starts sild-gateway on a free loopback port with a copy of the demo config
// and resolves once it logs the port it listens on.
async function startGateway({ enableReflection = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sild-node-client-'));
  const template = fs.readFileSync(
    path.join(sourceDir, 'gateway', 'demo', 'gateway.json'), 'utf8');
  const config = JSON.parse(template.replaceAll('@PKI@', pkiDir));
  config.listenAddress = '127.0.0.1:0';
  config.instanceName = enableReflection ? 'sild-node-test-reflection' : 'sild-node-test';
  config.enableReflection = enableReflection;
  // Keep whatever else the demo's store section sets (keys, limits).
  config.store = {
    ...config.store,
    sqlite: { ...config.store?.sqlite, path: path.join(dir, 'sild.db') },
  };
  const configPath = path.join(dir, 'gateway.json');
  fs.writeFileSync(configPath, JSON.stringify(config, null, 2));

  const child = spawn(gatewayBin, ['--config', configPath],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const gateway = { child, dir, log: [], exited: null, port: 0 };
  gateway.exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => gateway.log.push(chunk));

  const listening = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(
      `sild-gateway did not report its port within ${START_TIMEOUT_MS} ms:\n` +
      gateway.log.join(''))), START_TIMEOUT_MS);
    let pending = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      gateway.log.push(chunk);
      pending += chunk;
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        let record;
        try { record = JSON.parse(line); } catch { continue; }
        if (record.msg === 'gateway listening' && record.port) {
          clearTimeout(timer);
          resolve(Number(record.port));
        }
      }
    });
    child.on('error', (error) => { clearTimeout(timer); reject(error); });
    gateway.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`sild-gateway exited (code ${code}, signal ${signal}) ` +
                       `before listening:\n${gateway.log.join('')}`));
    });
  });
  try {
    gateway.port = await listening;
  } catch (error) {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return gateway;
}

// SIGTERM, then the exit status; SIGKILL if it does not stop in time.
async function stopGateway(gateway) {
  if (gateway.child.exitCode === null && gateway.child.signalCode === null) {
    gateway.child.kill('SIGTERM');
  }
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve(null), STOP_TIMEOUT_MS);
  });
  const result = await Promise.race([gateway.exited, timeout]);
  clearTimeout(timer);
  if (result === null) {
    gateway.child.kill('SIGKILL');
    await gateway.exited;
  }
  return result;
}

// Safety net for a test that failed before the stop test ran.
async function cleanUp(gateway, clients) {
  for (const client of clients) client.close();
  if (!gateway) return;
  if (gateway.child.exitCode === null && gateway.child.signalCode === null) {
    gateway.child.kill('SIGKILL');
    await gateway.exited;
  }
  fs.rmSync(gateway.dir, { recursive: true, force: true });
}

function gatewayLog(gateway) {
  return `\n--- sild-gateway output ---\n${gateway.log.join('')}`;
}

// --- the tests ------------------------------------------------------------

describe('sild-gateway from a Node.js grpc-js client over mTLS', () => {
  let gateway;
  const clients = [];
  const target = () => `127.0.0.1:${gateway.port}`;
  const gatewayClient = (agency) => {
    const client = new sild.GatewayService(target(), agencyCredentials(agency), CHANNEL_OPTIONS);
    clients.push(client);
    return client;
  };

  before(async () => { gateway = await startGateway(); });
  after(async () => { await cleanUp(gateway, clients); });

  it('WhoAmI identifies the school by its client certificate', async () => {
    const response = await unary(gatewayClient('school'), 'WhoAmI', {});
    assert.equal(response.agency.registry_code, SCHOOL_CODE);
    assert.equal(response.agency.kind, 'AGENCY_KIND_SCHOOL');
    assert.equal(response.agency.name, 'Raasiku Basic School');
    assert.equal(response.identity, `spiffe://sild.example/agency/${SCHOOL_CODE}`);
  });

  it('GetGatewayInfo answers', async () => {
    const response = await unary(gatewayClient('school'), 'GetGatewayInfo', {});
    assert.equal(response.instance_name, 'sild-node-test');
    assert.match(response.version, /\S/);
    assert.match(response.schema_version, /\S/);
  });

  it('the standard gRPC health service reports SERVING', async () => {
    const client = new health.Health(target(), agencyCredentials('school'), CHANNEL_OPTIONS);
    clients.push(client);
    const overall = await unary(client, 'Check', { service: '' });
    assert.equal(overall.status, 'SERVING');
    const service = await unary(client, 'Check', { service: 'sild.v1.GatewayService' });
    assert.equal(service.status, 'SERVING');
  });

  it('an agency missing from the config gets UNAUTHENTICATED / UNKNOWN_AGENCY',
    async () => {
      const error = await unary(gatewayClient('unknown-agency'), 'WhoAmI', {})
        .then(() => null, (e) => e);
      assert.ok(error, 'the call should have failed');
      assert.equal(error.code, grpc.status.UNAUTHENTICATED, error.message);
      assert.deepEqual(error.metadata.get('sild-reason'), ['UNKNOWN_AGENCY']);
    });

  it('a certificate without an agency URI SAN gets UNAUTHENTICATED', async () => {
    const error = await unary(gatewayClient('no-identity'), 'WhoAmI', {})
      .then(() => null, (e) => e);
    assert.ok(error, 'the call should have failed');
    assert.equal(error.code, grpc.status.UNAUTHENTICATED, error.message);
    assert.equal(error.metadata.get('sild-reason').length, 1);
  });

  it('server reflection is off unless the config enables it', async () => {
    const client = new reflection.ServerReflection(target(), agencyCredentials('school'),
      CHANNEL_OPTIONS);
    clients.push(client);
    const error = await new Promise((resolve) => {
      const call = client.ServerReflectionInfo({ deadline: deadline() });
      call.on('data', () => {});
      call.on('error', resolve);
      call.on('end', () => resolve(null));
      call.write({ list_services: '*' });
      call.end();
    });
    assert.ok(error, 'reflection answered although it is disabled');
    assert.equal(error.code, grpc.status.UNIMPLEMENTED, error.message);
  });

  it('stops on SIGTERM with exit status 0', async () => {
    for (const client of clients.splice(0)) client.close();
    const result = await stopGateway(gateway);
    assert.ok(result, `sild-gateway did not stop within ${STOP_TIMEOUT_MS} ms` +
              gatewayLog(gateway));
    assert.deepEqual(result, { code: 0, signal: null }, gatewayLog(gateway));
  });
});

describe('the .proto files load in @grpc/proto-loader', () => {
  const files = [
    ...fs.readdirSync(path.join(protoDir, 'sild', 'v1'))
      .filter((name) => name.endsWith('.proto'))
      .sort()
      .map((name) => `sild/v1/${name}`),
    'sild/config/v1/config.proto',
    'grpc/health/v1/health.proto',
  ];

  it('finds the schema files', () => {
    assert.ok(files.includes('sild/v1/options.proto'), files.join(', '));
    assert.ok(files.includes('sild/v1/gateway_service.proto'), files.join(', '));
    assert.ok(files.length >= 9, files.join(', '));
  });

  for (const file of files) {
    it(`loads ${file}`, () => {
      const definition = protoLoader.loadSync(file, LOADER_OPTIONS);
      // Something of the file's own package is defined (not only imports).
      const source = fs.readFileSync(path.join(protoDir, file), 'utf8');
      const pkg = source.match(/^package\s+([\w.]+)\s*;/m)?.[1];
      assert.ok(pkg, `${file} has no package`);
      assert.ok(Object.keys(definition).some((name) => name.startsWith(`${pkg}.`)),
        `${file} defines nothing in ${pkg}`);
      // Every service method resolves its request and response types.
      for (const [name, entry] of Object.entries(definition)) {
        if ('format' in entry) continue;  // message or enum
        for (const [method, spec] of Object.entries(entry)) {
          assert.ok(spec.requestType?.type, `${name}.${method} request type`);
          assert.ok(spec.responseType?.type, `${name}.${method} response type`);
        }
      }
    });
  }

  it('loads all of them together (no clashing names)', () => {
    const definition = protoLoader.loadSync(files, LOADER_OPTIONS);
    assert.ok(definition['sild.v1.GatewayService']);
    assert.ok(definition['sild.v1.DataCategory']);
    assert.ok(definition['sild.config.v1.GatewayConfig']);
    assert.ok(definition['grpc.health.v1.Health']);
    const category = definition['sild.v1.DataCategory'].type.value.map((v) => v.name);
    assert.ok(category.includes('DATA_CATEGORY_OPERATIONAL'), category.join(', '));
  });
});

describe('server reflection from a Node.js client', () => {
  let gateway;
  const clients = [];

  before(async () => { gateway = await startGateway({ enableReflection: true }); });
  after(async () => { await cleanUp(gateway, clients); });

  it('lists sild.v1.GatewayService and serves its file descriptor', async () => {
    const client = new reflection.ServerReflection(
      `127.0.0.1:${gateway.port}`, agencyCredentials('school'), CHANNEL_OPTIONS);
    clients.push(client);
    const responses = await new Promise((resolve, reject) => {
      const received = [];
      const call = client.ServerReflectionInfo({ deadline: deadline() });
      call.on('data', (response) => {
        received.push(response);
        if (received.length === 2) call.end();
      });
      call.on('error', reject);
      call.on('end', () => resolve(received));
      call.write({ list_services: '*' });
      call.write({ file_containing_symbol: 'sild.v1.GatewayService' });
    });
    assert.equal(responses.length, 2);

    const [list, file] = responses;
    assert.equal(list.message_response, 'list_services_response',
      JSON.stringify(list));
    const services = list.list_services_response.service.map((s) => s.name);
    assert.ok(services.includes('sild.v1.GatewayService'), services.join(', '));
    assert.ok(services.includes('grpc.health.v1.Health'), services.join(', '));

    assert.equal(file.message_response, 'file_descriptor_response',
      JSON.stringify(file));
    const descriptors = file.file_descriptor_response.file_descriptor_proto;
    assert.ok(descriptors.length >= 1);
    // FileDescriptorProto field 1 is the file name.
    assert.ok(descriptors.some((d) => Buffer.from(d).includes('sild/v1/gateway_service.proto')),
      'no descriptor for sild/v1/gateway_service.proto');
  });

  it('stops on SIGTERM with exit status 0', async () => {
    for (const client of clients.splice(0)) client.close();
    const result = await stopGateway(gateway);
    assert.ok(result, `sild-gateway did not stop within ${STOP_TIMEOUT_MS} ms` +
              gatewayLog(gateway));
    assert.deepEqual(result, { code: 0, signal: null }, gatewayLog(gateway));
  });
});
