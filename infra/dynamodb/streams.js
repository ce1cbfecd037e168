// DynamoDB Streams for the local DynamoDB (server.js), emulated (never used in AWS): dynalite
// has no streams. A table created or updated with StreamSpecification {StreamEnabled: true,
// StreamViewType} gets a stream of one shard; server.js reads each changed item before and
// after the write and hands both images here, and every change that changes something
// becomes a record in AWS's shape (a write that changes nothing records nothing, as on AWS).
// The `DynamoDBStreams_20120810.` operations ListStreams, DescribeStream, GetShardIterator and
// GetRecords read them.
//
// Differences from AWS, all on purpose: one shard per stream that never closes while enabled
// (AWS rolls shards over every few hours), shard iterators do not expire, and retention is a
// count and size cap instead of 24 hours. Streams live in memory only: after a restart on the
// same data directory (infra/moto.sh wipes it at each start) tables have no stream until an
// UpdateTable enables one again.
//
// Memory stays bounded: each stream keeps at most MAX_RECORDS records and MAX_BYTES of record
// JSON (200,000 and 64 MiB; LOCAL_DYNAMODB_STREAM_RECORDS, LOCAL_DYNAMODB_STREAM_BYTES); older
// ones are trimmed and reading a trimmed position answers TrimmedDataAccessException. A deleted
// table's streams go. Records are kept as their JSON bytes, which GetRecords answers with.

'use strict'
const crypto = require('crypto')

const TARGET = 'DynamoDBStreams_20120810.'
const VIEW_TYPES = ['KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES']
const ITERATOR_TYPES = ['TRIM_HORIZON', 'LATEST', 'AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER']
const SHARD_ID = 'shardId-00000000000000000001-00000001'
// Sequence numbers are numeric strings of 21 digits, increasing within a stream.
const FIRST_SEQUENCE = 10n ** 20n
const COMMA = Buffer.from(',')
const MAX_LIMIT = 1000
const MAX_RESPONSE_BYTES = 1024 * 1024 // GetRecords answers at most 1 MB, as on AWS
const MAX_RECORDS = Number(process.env.LOCAL_DYNAMODB_STREAM_RECORDS || 200000)
const MAX_BYTES = Number(process.env.LOCAL_DYNAMODB_STREAM_BYTES || 64 * 1024 * 1024)

function error(type, message) {
  return { status: 400, body: { __type: 'com.amazonaws.dynamodb.v20120810#' + type, message } }
}

// The attribute map as a string equal for equal values (attribute order does not matter).
function canonical(value) {
  if (Array.isArray(value)) return '[' + value.map(canonical).join(',') + ']'
  if (value && typeof value === 'object') {
    return '{' + Object.keys(value).sort().map((k) => JSON.stringify(k) + ':' + canonical(value[k])).join(',') + '}'
  }
  return JSON.stringify(value)
}

function sequenceOf(index) {
  return (FIRST_SEQUENCE + BigInt(index)).toString()
}

// The position (record index) of a sequence number; undefined when it is not one of ours.
function indexOf(sequence) {
  if (typeof sequence !== 'string' || !/^[0-9]{21}$/.test(sequence)) return undefined
  const index = BigInt(sequence) - FIRST_SEQUENCE
  return index >= 0n && index <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(index) : undefined
}

// ----- one stream ------------------------------------------------------------------------------

class Stream {
  constructor(table, viewType, label) {
    this.tableName = table.TableName
    this.keySchema = table.KeySchema
    this.region = (table.TableArn || '').split(':')[3] || 'us-east-1'
    this.label = label
    this.arn = table.TableArn + '/stream/' + label
    this.viewType = viewType
    this.status = 'ENABLED'
    this.created = Date.now()
    this.records = [] // each record's JSON (a Buffer); records[head] has index `start`
    this.head = 0
    this.start = 0
    this.bytes = 0
  }

  get end() {
    return this.start + this.records.length - this.head
  }

  append(keys, before, after, itemSize) {
    const dynamodb = {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      Keys: keys,
    }
    if (after && (this.viewType === 'NEW_IMAGE' || this.viewType === 'NEW_AND_OLD_IMAGES')) dynamodb.NewImage = after
    if (before && (this.viewType === 'OLD_IMAGE' || this.viewType === 'NEW_AND_OLD_IMAGES')) dynamodb.OldImage = before
    dynamodb.SequenceNumber = sequenceOf(this.end)
    dynamodb.SizeBytes = itemSize(keys) + (dynamodb.NewImage ? itemSize(after) : 0) + (dynamodb.OldImage ? itemSize(before) : 0)
    dynamodb.StreamViewType = this.viewType
    // Kept as bytes outside the JavaScript heap: exact to count, and no garbage collector
    // headroom on top.
    const json = Buffer.from(JSON.stringify({
      eventID: crypto.randomBytes(16).toString('hex'),
      eventName: !before ? 'INSERT' : !after ? 'REMOVE' : 'MODIFY',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: this.region,
      dynamodb,
    }))
    this.records.push(json)
    this.bytes += json.length
    this.trim()
  }

  trim() {
    while (this.records.length - this.head > MAX_RECORDS || (this.bytes > MAX_BYTES && this.records.length - this.head > 1)) {
      this.bytes -= this.records[this.head].length
      this.records[this.head] = undefined
      this.head++
      this.start++
    }
    if (this.head > 4096 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head)
      this.head = 0
    }
  }

  // The records from index `from`: at most `limit`, at most 1 MB (at least one).
  read(from, limit) {
    const out = []
    let bytes = 0
    for (let i = from; i < this.end && out.length < limit; i++) {
      const record = this.records[this.head + i - this.start]
      if (out.length > 0 && bytes + record.length > MAX_RESPONSE_BYTES) break
      bytes += record.length
      out.push(record)
    }
    return out
  }

  summary() {
    return { StreamArn: this.arn, TableName: this.tableName, StreamLabel: this.label }
  }
}

// ----- the streams of the local DynamoDB ---------------------------------------------------------

// `itemSize(attributes)`: an item's size as DynamoDB counts it.
function create({ itemSize }) {
  const byArn = new Map() // every readable stream, in creation order
  const latest = new Map() // table name -> its latest stream (enabled or disabled)
  const labels = new Map() // table name -> the last label given (labels never repeat)

  function newLabel(tableName) {
    let time = Date.now()
    const last = labels.get(tableName)
    if (last !== undefined && time <= last) time = last + 1
    labels.set(tableName, time)
    return new Date(time).toISOString().replace(/Z$/, '')
  }

  // The stream that records the table's writes, if any.
  function enabledFor(tableName) {
    const stream = latest.get(tableName)
    return stream && stream.status === 'ENABLED' ? stream : undefined
  }

  // StreamSpecification of a CreateTable or UpdateTable request: {enabled, viewType} or an error.
  function parseSpecification(spec) {
    if (typeof spec !== 'object' || spec === null || typeof spec.StreamEnabled !== 'boolean') {
      return { error: error('ValidationException', 'StreamSpecification: StreamEnabled (a boolean) is required') }
    }
    if (spec.StreamEnabled && !VIEW_TYPES.includes(spec.StreamViewType)) {
      return { error: error('ValidationException', 'One or more parameter values were invalid: ' +
        'StreamViewType must be one of ' + VIEW_TYPES.join(', ') + ' when StreamEnabled is true') }
    }
    return { enabled: spec.StreamEnabled, viewType: spec.StreamViewType }
  }

  // `table`: a TableDescription (TableName, TableArn, KeySchema).
  function enable(table, viewType) {
    const stream = new Stream(table, viewType, newLabel(table.TableName))
    byArn.set(stream.arn, stream)
    latest.set(table.TableName, stream)
    return stream
  }

  function disable(tableName) {
    const stream = enabledFor(tableName)
    if (stream) stream.status = 'DISABLED'
  }

  function dropTable(tableName) {
    for (const [arn, stream] of byArn) if (stream.tableName === tableName) byArn.delete(arn)
    latest.delete(tableName)
  }

  // Adds the stream fields to a TableDescription, as DescribeTable shows them.
  function describeTable(table) {
    const stream = table && latest.get(table.TableName)
    if (!stream) return table
    if (stream.status === 'ENABLED') table.StreamSpecification = { StreamEnabled: true, StreamViewType: stream.viewType }
    table.LatestStreamArn = stream.arn
    table.LatestStreamLabel = stream.label
    return table
  }

  // Records a write of one item of `tableName`: `keys` its key attributes, `before` and `after`
  // the item before and after (undefined: absent). Nothing when the item did not change.
  function record(tableName, keys, before, after) {
    const stream = enabledFor(tableName)
    if (!stream || (!before && !after)) return
    if (before && after && canonical(before) === canonical(after)) return
    stream.append(keys, before, after, itemSize)
  }

  // ----- per-item locks: read before, write, read after, record, in one piece -----------------

  const locks = new Map() // lock id -> the promise the next holder waits for

  function acquire(id) {
    const previous = locks.get(id) || Promise.resolve()
    let release
    const held = new Promise((resolve) => (release = resolve))
    const tail = previous.then(() => held)
    locks.set(id, tail)
    return previous.then(() => () => {
      release()
      if (locks.get(id) === tail) locks.delete(id)
    })
  }

  // Runs `work` holding the locks of `ids` (taken in one order, so two batches cannot deadlock).
  async function withLocks(ids, work) {
    const releases = []
    try {
      for (const id of [...new Set(ids)].sort()) releases.push(await acquire(id))
      return await work()
    } finally {
      for (const release of releases) release()
    }
  }

  // ----- the DynamoDB Streams API ----------------------------------------------------------------

  function streamOf(arn) {
    const stream = byArn.get(arn)
    if (!stream) return { error: error('ResourceNotFoundException', 'Requested resource not found: Stream: ' + arn + ' not found') }
    return { stream }
  }

  function iterator(stream, index) {
    return Buffer.from(JSON.stringify({ arn: stream.arn, shard: SHARD_ID, at: index })).toString('base64url')
  }

  function listStreams(request) {
    const limit = request.Limit === undefined ? 100 : request.Limit
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return error('ValidationException', 'Limit must be between 1 and 100')
    let streams = [...byArn.values()].filter((s) => !request.TableName || s.tableName === request.TableName)
    if (request.ExclusiveStartStreamArn) {
      const at = streams.findIndex((s) => s.arn === request.ExclusiveStartStreamArn)
      streams = at < 0 ? [] : streams.slice(at + 1)
    }
    const page = streams.slice(0, limit)
    const body = { Streams: page.map((s) => s.summary()) }
    if (streams.length > limit) body.LastEvaluatedStreamArn = page[page.length - 1].arn
    return { status: 200, body }
  }

  function describeStream(request) {
    const { stream, error: missing } = streamOf(request.StreamArn)
    if (missing) return missing
    const range = { StartingSequenceNumber: sequenceOf(0) }
    if (stream.status !== 'ENABLED') range.EndingSequenceNumber = sequenceOf(Math.max(stream.end - 1, 0))
    const shards = request.ExclusiveStartShardId === SHARD_ID ? [] : [{ ShardId: SHARD_ID, SequenceNumberRange: range }]
    return { status: 200, body: { StreamDescription: {
      StreamArn: stream.arn,
      StreamLabel: stream.label,
      StreamStatus: stream.status,
      StreamViewType: stream.viewType,
      CreationRequestDateTime: stream.created / 1000,
      TableName: stream.tableName,
      KeySchema: stream.keySchema,
      Shards: shards,
    } } }
  }

  function getShardIterator(request) {
    const { stream, error: missing } = streamOf(request.StreamArn)
    if (missing) return missing
    if (request.ShardId !== SHARD_ID) {
      return error('ResourceNotFoundException', 'Requested resource not found: Shard does not exist')
    }
    const type = request.ShardIteratorType
    if (!ITERATOR_TYPES.includes(type)) {
      return error('ValidationException', 'ShardIteratorType must be one of ' + ITERATOR_TYPES.join(', '))
    }
    let at
    if (type === 'TRIM_HORIZON') at = stream.start
    else if (type === 'LATEST') at = stream.end
    else {
      const index = indexOf(request.SequenceNumber)
      if (index === undefined || index >= stream.end) {
        return error('ValidationException', 'Invalid SequenceNumber for ' + type + ': ' + request.SequenceNumber)
      }
      if (index < stream.start) {
        return error('TrimmedDataAccessException', 'The operation attempted to read past the oldest stream record in a shard')
      }
      at = type === 'AT_SEQUENCE_NUMBER' ? index : index + 1
    }
    return { status: 200, body: { ShardIterator: iterator(stream, at) } }
  }

  function getRecords(request) {
    let position
    try {
      position = JSON.parse(Buffer.from(String(request.ShardIterator), 'base64url').toString())
    } catch (e) {
      position = undefined
    }
    if (!position || typeof position.arn !== 'string' || !Number.isInteger(position.at)) {
      return error('ValidationException', 'Invalid ShardIterator')
    }
    const limit = request.Limit === undefined ? MAX_LIMIT : request.Limit
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      return error('ValidationException', 'Limit must be between 1 and ' + MAX_LIMIT)
    }
    const { stream, error: missing } = streamOf(position.arn)
    if (missing) return missing
    if (position.at < stream.start) {
      return error('TrimmedDataAccessException', 'The operation attempted to read past the oldest stream record in a shard')
    }
    const records = stream.read(Math.min(position.at, stream.end), limit)
    const next = Math.min(position.at, stream.end) + records.length
    // A disabled stream's shard is closed: once read to its end there is no next iterator.
    const closed = stream.status !== 'ENABLED' && next >= stream.end
    // The records are kept as JSON: the answer is put together from their bytes.
    const parts = [Buffer.from('{"Records":[')]
    records.forEach((record, i) => parts.push(...(i ? [COMMA, record] : [record])))
    parts.push(Buffer.from(']' + (closed ? '' : ',"NextShardIterator":' + JSON.stringify(iterator(stream, next))) + '}'))
    return { status: 200, body: Buffer.concat(parts) }
  }

  const OPERATIONS = { ListStreams: listStreams, DescribeStream: describeStream, GetShardIterator: getShardIterator, GetRecords: getRecords }

  // A `DynamoDBStreams_20120810.` request: {status, body}.
  function handle(target, request) {
    const operation = OPERATIONS[target.slice(TARGET.length)]
    if (!operation) return { status: 400, body: { __type: 'com.amazon.coral.service#UnknownOperationException' } }
    return operation(request)
  }

  return {
    enabledFor, parseSpecification, enable, disable, dropTable, describeTable, record, withLocks, handle,
  }
}

module.exports = { TARGET, create }
