// Benchmark-only DynamoDB endpoint on 127.0.0.1 (see package.json), stored in LevelDB on disk
// (its in-memory store slows down as the table grows). Usage: node dynalite.js PORT DIR
const dynalite = require('dynalite')
const port = Number(process.argv[2] || 5058)
const path = process.argv[3] || '.local/bench-dynamodb'
dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, path })
  .listen(port, '127.0.0.1', () => console.log(`dynalite: serving http://127.0.0.1:${port} (data: ${path})`))
