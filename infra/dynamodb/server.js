// The local DynamoDB of `make dev` and `make test` (emulation only; never used in AWS):
// dynalite, which keeps tables in LevelDB on disk and indexes queries as DynamoDB does, so
// memory stays bounded whatever the data, plus the TransactWriteItems and TransactGetItems
// that dynalite lacks.
//
// Plain requests run side by side (dynalite locks each item it writes, as it does behind its
// own HTTP server); a transaction runs alone, after the requests before it and before those
// after it, so it is isolated as on AWS: its conditions are all evaluated (with dynalite's own
// expression code) against the items as they are, then, only if all hold, its writes are
// applied; a write that fails midway puts back the items written before it. Cancellation
// reasons have AWS's shape.
//
// DynamoDB Streams, which dynalite lacks too: tables created or updated with a
// StreamSpecification get a stream (streams.js) fed with the exact images of every item a
// PutItem, UpdateItem, DeleteItem, BatchWriteItem or TransactWriteItems changes. A plain write
// to such a table reads the item before and after under a lock of the item, so that its record
// follows the item's previous ones; a transaction runs alone and records after it commits.
//
// usage: node server.js PORT DATA_DIR     (listens on 127.0.0.1 only)

'use strict'
const http = require('http')
const crc32 = require('buffer-crc32')
// LevelDB with larger write buffers than its 4 MiB default: a bulk import writes some 55
// index-carrying puts per contact, and small buffers spend the process in compactions.
const leveldown = require('leveldown')
const LEVELDB_BUFFERS = { writeBufferSize: 32 * 1024 * 1024, cacheSize: 32 * 1024 * 1024 }
require.cache[require.resolve('leveldown')].exports = (location) => {
  const store = leveldown(location)
  const open = store._open.bind(store)
  store._open = (options, callback) => open({ ...options, ...LEVELDB_BUFFERS }, callback)
  return store
}
// Table and stream ARNs as moto's (account 123456789012), in the stack's region (the Makefile's
// eu-central-1 unless the environment names another).
process.env.AWS_ACCOUNT_ID = process.env.AWS_ACCOUNT_ID || '123456789012'
process.env.AWS_REGION = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'eu-central-1'
const db = require('dynalite/db')
const validations = require('dynalite/validations')
const streamsModule = require('./streams')

const port = Number(process.argv[2] || 5056)
const path = process.argv[3] || '.local/dynamodb'
const TARGET = 'DynamoDB_20120810.'
const OPERATIONS = ['BatchGetItem', 'BatchWriteItem', 'CreateTable', 'DeleteItem', 'DeleteTable',
  'DescribeTable', 'DescribeTimeToLive', 'GetItem', 'ListTables', 'PutItem', 'Query', 'Scan', 'TagResource',
  'UntagResource', 'ListTagsOfResource', 'UpdateItem', 'UpdateTable']
const ACTION_OF = { Put: 'putItem', Delete: 'deleteItem', Update: 'updateItem', ConditionCheck: 'deleteItem' }

const store = db.create({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, path })
const streams = streamsModule.create({ itemSize: (item) => db.itemSize(item) })

// ----- plain requests together, transactions alone ---------------------------------------------

// A readers-writer gate in arrival order: a waiting transaction holds back the plain requests
// that came after it, so it is never starved.
const EXCLUSIVE = new Set(['TransactWriteItems', 'TransactGetItems', 'CreateTable', 'DeleteTable', 'UpdateTable'])
let running = 0
let alone = false
const waiting = []

function pump() {
  while (waiting.length > 0 && !alone) {
    const next = waiting[0]
    if (next.exclusive && running > 0) return
    waiting.shift()
    if (next.exclusive) alone = true
    else running++
    next.start()
  }
}

function gated(exclusive, work) {
  return new Promise((resolve, reject) => {
    waiting.push({
      exclusive,
      start: () => {
        Promise.resolve()
          .then(work)
          .then(resolve, reject)
          .finally(() => {
            if (exclusive) alone = false
            else running--
            pump()
          })
      },
    })
    pump()
  })
}

// ----- dynalite's operations, in process -------------------------------------------------------

// Validates `data` for `op` as dynalite's HTTP handler does, then runs dynalite's action.
function run(op, data) {
  const action = validations.toLowerFirst(op)
  const rules = require('dynalite/validations/' + action)
  return new Promise((resolve, reject) => {
    try {
      data = validations.checkTypes(data, rules.types)
      validations.checkValidations(data, rules.types, rules.custom, store)
    } catch (e) {
      return e.statusCode ? resolve({ status: e.statusCode, body: e.body }) : reject(e)
    }
    require('dynalite/actions/' + action)(store, data, (err, out) => {
      if (err && err.statusCode) return resolve({ status: err.statusCode, body: err.body })
      if (err) return reject(err)
      resolve({ status: 200, body: out })
    })
  })
}

async function callJson(op, body) {
  const r = await run(op, body)
  if (r.status !== 200) {
    const e = new Error((r.body && r.body.message) || op + ' failed')
    e.response = r
    throw e
  }
  return r.body
}

function error(status, type, message, extra) {
  return { status, body: { __type: 'com.amazonaws.dynamodb.v20120810#' + type, message, ...extra } }
}

// ----- transactions ----------------------------------------------------------------------------

const keySchemas = new Map()
async function keyOf(table, item) {
  if (!keySchemas.has(table)) {
    const d = await callJson('DescribeTable', { TableName: table })
    keySchemas.set(table, d.Table.KeySchema.map((k) => k.AttributeName))
  }
  const key = {}
  for (const name of keySchemas.get(table)) key[name] = item[name]
  return key
}

// The op as the single-item request dynalite validates: its parsed condition, or the error.
function validated(kind, op) {
  const action = ACTION_OF[kind]
  const rules = require('dynalite/validations/' + action)
  let data = { ...op }
  if (kind === 'ConditionCheck') data = { TableName: op.TableName, Key: op.Key, ConditionExpression: op.ConditionExpression,
    ExpressionAttributeNames: op.ExpressionAttributeNames, ExpressionAttributeValues: op.ExpressionAttributeValues }
  data = validations.checkTypes(data, rules.types)
  validations.checkValidations(data, rules.types, rules.custom, store)
  return data
}

// The item at `key` of table `name` (or undefined), read from the store: the validation and
// response building of a GetItem per item would double a transaction's cost.
function readItem(name, key) {
  return new Promise((resolve, reject) => {
    store.getTable(name, (err, table) => {
      if (err) return reject(err)
      store.getItemDb(name).get(db.createKey(key, table), (err, item) => {
        if (err && err.name !== 'NotFoundError') return reject(err)
        resolve(err ? undefined : item)
      })
    })
  })
}

// Runs an op validated by `validated` without its condition (already checked).
function applyValidated(kind, data) {
  const unconditional = { ...data }
  delete unconditional._condition
  delete unconditional.ConditionExpression
  delete unconditional.ReturnValuesOnConditionCheckFailure
  return new Promise((resolve, reject) => {
    require('dynalite/actions/' + ACTION_OF[kind])(store, unconditional, (err, out) => {
      if (err && err.statusCode) return resolve({ status: err.statusCode, body: err.body })
      if (err) return reject(err)
      resolve({ status: 200, body: out })
    })
  })
}

async function transactWrite(request) {
  const items = request.TransactItems || []
  if (!items.length || items.length > 100) {
    return error(400, 'ValidationException', 'TransactItems must have between 1 and 100 items')
  }
  const ops = []
  const seen = new Set()
  for (const entry of items) {
    const kinds = Object.keys(entry)
    if (kinds.length !== 1 || !ACTION_OF[kinds[0]]) {
      return error(400, 'ValidationException', 'Each TransactItem must be exactly one of Put, Delete, Update, ConditionCheck')
    }
    const kind = kinds[0]
    const op = entry[kind]
    let data
    try {
      data = validated(kind, op)
    } catch (e) {
      if (e.statusCode) return { status: e.statusCode, body: e.body }
      throw e
    }
    const key = await keyOf(op.TableName, kind === 'Put' ? op.Item : op.Key)
    const id = op.TableName + '\u0000' + JSON.stringify(key)
    if (seen.has(id)) {
      return error(400, 'ValidationException', 'Transaction request cannot include multiple operations on one item')
    }
    seen.add(id)
    ops.push({ kind, op, data, key })
  }
  // Conditions first, all against the items as they are.
  const reasons = []
  for (const o of ops) {
    try {
      o.before = await readItem(o.op.TableName, o.key)
    } catch (e) {
      if (e.statusCode) return { status: e.statusCode, body: e.body }
      throw e
    }
    const failed = db.checkConditional(o.data, o.before)
    if (failed) {
      const reason = { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' }
      if (o.op.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && o.before) reason.Item = o.before
      reasons.push(reason)
    } else {
      reasons.push({ Code: 'None' })
    }
  }
  if (reasons.some((r) => r.Code !== 'None')) {
    const codes = reasons.map((r) => r.Code).join(', ')
    return error(400, 'TransactionCanceledException',
      'Transaction cancelled, please refer cancellation reasons for specific reasons [' + codes + ']',
      { CancellationReasons: reasons })
  }
  // Then the writes; the conditions hold, nothing ran in between.
  const done = []
  for (const [index, o] of ops.entries()) {
    if (o.kind === 'ConditionCheck') continue
    try {
      const r = await applyValidated(o.kind, o.data)
      if (r.status !== 200) {
        const e = new Error((r.body && r.body.message) || 'write failed')
        e.response = r
        throw e
      }
      done.push(o)
    } catch (e) {
      for (const d of done.reverse()) {
        if (d.before) await callJson('PutItem', { TableName: d.op.TableName, Item: d.before })
        else await callJson('DeleteItem', { TableName: d.op.TableName, Key: d.key })
      }
      // A write refused for the item's data (e.g. ADD to a string): AWS cancels the
      // transaction with a ValidationError reason for that item.
      const body = e.response && e.response.body
      if (body && /#ValidationException$/.test(body.__type || '')) {
        const reasons = ops.map(() => ({ Code: 'None' }))
        reasons[index] = { Code: 'ValidationError', Message: body.message }
        return error(400, 'TransactionCanceledException', 'Transaction cancelled, please refer ' +
          'cancellation reasons for specific reasons [' + reasons.map((r) => r.Code).join(', ') + ']',
          { CancellationReasons: reasons })
      }
      if (e.response) return e.response
      throw e
    }
  }
  // Committed: the stream records of the items it changed, in the transaction's order.
  for (const o of ops) {
    if (o.kind === 'ConditionCheck' || !streams.enabledFor(o.op.TableName)) continue
    streams.record(o.op.TableName, o.key, o.before, await readItem(o.op.TableName, o.key))
  }
  return { status: 200, body: {} }
}

async function transactGet(request) {
  const responses = []
  for (const entry of request.TransactItems || []) {
    const get = entry.Get || {}
    const got = await callJson('GetItem', { ...get, ConsistentRead: true })
    responses.push(got.Item ? { Item: got.Item } : {})
  }
  return { status: 200, body: { Responses: responses } }
}

// ----- streams: the tables' settings and their item writes -------------------------------------

// CreateTable, with the table's stream when its StreamSpecification enables one.
async function createTable(request) {
  const { StreamSpecification: spec, ...rest } = request
  const parsed = spec === undefined ? { enabled: false } : streams.parseSpecification(spec)
  if (parsed.error) return parsed.error
  const r = await run('CreateTable', rest)
  if (r.status === 200 && parsed.enabled) {
    streams.enable(r.body.TableDescription, parsed.viewType)
    streams.describeTable(r.body.TableDescription)
  }
  return r
}

// UpdateTable: a StreamSpecification enables or disables the stream (alone, or with what
// dynalite updates).
async function updateTable(request) {
  const { StreamSpecification: spec, ...rest } = request
  if (spec === undefined) return describedTable(await run('UpdateTable', request), 'TableDescription')
  const parsed = streams.parseSpecification(spec)
  if (parsed.error) return parsed.error
  const described = await run('DescribeTable', { TableName: request.TableName })
  if (described.status !== 200) return described
  const table = described.body.Table
  if (parsed.enabled && streams.enabledFor(table.TableName)) {
    return error(400, 'ValidationException', 'Table already has an enabled stream: ' + table.TableName)
  }
  if (!parsed.enabled && !streams.enabledFor(table.TableName)) {
    return error(400, 'ValidationException', 'Table does not have a stream to disable: ' + table.TableName)
  }
  let r = { status: 200, body: { TableDescription: table } }
  if (Object.keys(rest).length > 1) {
    r = await run('UpdateTable', rest)
    if (r.status !== 200) return r
  }
  if (parsed.enabled) streams.enable(table, parsed.viewType)
  else streams.disable(table.TableName)
  return describedTable(r, 'TableDescription')
}

function describedTable(r, field) {
  if (r.status === 200) streams.describeTable(r.body[field])
  return r
}

// The key of `item` in `table` and the id of its lock; undefined when the item lacks a key
// attribute (dynalite then refuses the request).
async function keyOfWrite(table, item) {
  const key = await keyOf(table, item || {})
  if (Object.values(key).some((v) => v === undefined)) return undefined
  return { key, lock: table + '\u0000' + canonicalKey(key) }
}

function canonicalKey(key) {
  return JSON.stringify(Object.keys(key).sort().map((name) => [name, key[name]]))
}

// PutItem, UpdateItem or DeleteItem on a table with a stream: the item before and after, under
// the item's lock, recorded when the write succeeded.
async function streamedWrite(op, request) {
  const table = request.TableName
  const target = await keyOfWrite(table, op === 'PutItem' ? request.Item : request.Key)
  if (!target) return run(op, request)
  return streams.withLocks([target.lock], async () => {
    let before
    try {
      before = await readItem(table, target.key)
    } catch (e) {
      return run(op, request) // a key dynalite cannot read is one it refuses to write
    }
    const r = await run(op, request)
    if (r.status === 200) streams.record(table, target.key, before, await readItem(table, target.key))
    return r
  })
}

// BatchWriteItem naming a table with a stream: every item of such tables read before and after,
// under their locks; recorded in request order when the batch succeeded (dynalite applies all
// of a batch or refuses it).
async function streamedBatch(request) {
  const writes = []
  for (const [table, requests] of Object.entries(request.RequestItems || {})) {
    if (!streams.enabledFor(table) || !Array.isArray(requests)) continue
    for (const w of requests) {
      const item = (w && w.PutRequest && w.PutRequest.Item) || (w && w.DeleteRequest && w.DeleteRequest.Key)
      const target = await keyOfWrite(table, item)
      if (!target) return run('BatchWriteItem', request)
      writes.push({ table, ...target })
    }
  }
  return streams.withLocks(writes.map((w) => w.lock), async () => {
    try {
      for (const w of writes) w.before = await readItem(w.table, w.key)
    } catch (e) {
      return run('BatchWriteItem', request)
    }
    const r = await run('BatchWriteItem', request)
    if (r.status === 200) {
      for (const w of writes) streams.record(w.table, w.key, w.before, await readItem(w.table, w.key))
    }
    return r
  })
}

function streamed(op, request) {
  if (op === 'BatchWriteItem') {
    return Object.keys(request.RequestItems || {}).some((table) => streams.enabledFor(table))
  }
  return ['PutItem', 'UpdateItem', 'DeleteItem'].includes(op) && streams.enabledFor(request.TableName)
}

// ----- the server ------------------------------------------------------------------------------

function send(res, status, body, contentType) {
  const raw = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
  res.writeHead(status, {
    'content-type': contentType || 'application/x-amz-json-1.0',
    'content-length': raw.length,
    'x-amz-crc32': crc32.unsigned(raw),
    'x-amzn-requestid': require('crypto').randomUUID(),
  })
  res.end(raw)
}

const ttl = new Map()

async function handle(target, text) {
  let request
  try {
    request = JSON.parse(text || '{}')
  } catch (e) {
    return { status: 400, body: { __type: 'com.amazon.coral.service#SerializationException' } }
  }
  if (target.startsWith(streamsModule.TARGET)) return streams.handle(target, request)
  const op = target.startsWith(TARGET) ? target.slice(TARGET.length) : ''
  if (op === 'DeleteTable' || op === 'CreateTable') keySchemas.delete(request.TableName)
  if (op === 'TransactWriteItems') return transactWrite(request)
  if (op === 'CreateTable') return createTable(request)
  if (op === 'UpdateTable') return updateTable(request)
  if (op === 'DescribeTable') return describedTable(await run(op, request), 'Table')
  if (op === 'DeleteTable') {
    const r = await run(op, request)
    if (r.status === 200) streams.dropTable(request.TableName)
    return r
  }
  if (streamed(op, request)) return op === 'BatchWriteItem' ? streamedBatch(request) : streamedWrite(op, request)
  if (op === 'TransactGetItems') return transactGet(request)
  // Settings dynalite does not keep (expiry and backups are AWS's own jobs): acknowledged.
  if (op === 'UpdateTimeToLive') {
    ttl.set(request.TableName, request.TimeToLiveSpecification)
    return { status: 200, body: { TimeToLiveSpecification: request.TimeToLiveSpecification } }
  }
  if (op === 'DescribeTimeToLive' && ttl.has(request.TableName)) {
    const spec = ttl.get(request.TableName)
    return { status: 200, body: { TimeToLiveDescription: {
      TimeToLiveStatus: spec.Enabled ? 'ENABLED' : 'DISABLED', AttributeName: spec.AttributeName } } }
  }
  if (op === 'UpdateContinuousBackups' || op === 'DescribeContinuousBackups') {
    const enabled = op === 'DescribeContinuousBackups' ? 'DISABLED' : 'ENABLED'
    return { status: 200, body: { ContinuousBackupsDescription: { ContinuousBackupsStatus: 'ENABLED',
      PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: enabled } } } }
  }
  if (!OPERATIONS.includes(op)) {
    return { status: 400, body: { __type: 'com.amazon.coral.service#UnknownOperationException' } }
  }
  return run(op, request)
}

const server = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    if (req.method === 'GET') return send(res, 200, 'healthy: local dynamodb', 'text/plain')
    const target = req.headers['x-amz-target'] || ''
    const text = Buffer.concat(chunks).toString()
    const op = target.startsWith(TARGET) ? target.slice(TARGET.length) : ''
    gated(EXCLUSIVE.has(op), async () => {
      try {
        const r = await handle(target, text)
        send(res, r.status, r.body)
      } catch (e) {
        // dynalite's own answer met inside a transaction (e.g. ResourceNotFoundException)
        if (e.response) return send(res, e.response.status, e.response.body)
        console.error(e)
        send(res, 500, { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: String(e.message || e) })
      }
    })
  })
})

server.listen(port, '127.0.0.1', () => console.log(`local dynamodb: http://127.0.0.1:${port} (data: ${path})`))

// Stopped by infra/moto.sh: close the store so LevelDB ends cleanly.
process.on('SIGTERM', () => store.db.close(() => process.exit(0)))
