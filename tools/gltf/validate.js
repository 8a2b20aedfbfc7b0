const fs = require('fs');
const v = require('gltf-validator');
v.validateBytes(new Uint8Array(fs.readFileSync(process.argv[2]))).then(r => {
  console.log(JSON.stringify({errors: r.issues.numErrors, warnings: r.issues.numWarnings, messages: r.issues.messages.slice(0, 10)}));
}).catch(e => { console.error(e); process.exit(1); });
