// Benchmark-only DynamoDB endpoint on 127.0.0.1 (see package.json). Usage: node dynalite.js PORT
const dynalite = require('dynalite')
const port = Number(process.argv[2] || 5058)
dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
  .listen(port, '127.0.0.1', () => console.log(`dynalite: serving http://127.0.0.1:${port}`))
