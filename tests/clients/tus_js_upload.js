// Uploads one file to a tus server with tus-js-client under Node, as a
// user's script would.
//
//   node tus_js_upload.js ENDPOINT FILE NAME CHUNK [--upload-url URL] [--token T] [--with-creation]
//
// ENDPOINT: the folder URL to create the upload at; NAME: its filename;
// CHUNK: bytes per PATCH. With --upload-url, resumes that upload (HEAD,
// then the rest) instead of creating one; with --with-creation, the first
// chunk goes with the creation (creation-with-upload). Prints the upload's URL on
// success; on failure, the error and exit status 1.
'use strict';

const fs = require('fs');
const tus = require('tus-js-client');

function main() {
  const args = process.argv.slice(2);
  const option = (flag) => {
    const at = args.indexOf(flag);
    if (at < 0) return undefined;
    const [, value] = args.splice(at, 2);
    return value;
  };
  const withCreation = args.includes('--with-creation');
  if (withCreation) args.splice(args.indexOf('--with-creation'), 1);
  const uploadUrl = option('--upload-url');
  const token = option('--token');
  const [endpoint, path, name, chunk] = args;
  const upload = new tus.Upload(fs.createReadStream(path), {
    endpoint,
    uploadUrl,
    chunkSize: Number(chunk),
    uploadSize: fs.statSync(path).size,
    metadata: { filename: name, filetype: 'application/octet-stream' },
    headers: token ? { Authorization: 'Bearer ' + token } : {},
    retryDelays: null,
    uploadDataDuringCreation: withCreation,
    onError(error) {
      console.error(error.message);
      process.exit(1);
    },
    onSuccess() {
      console.log(upload.url);
    },
  });
  upload.start();
}

main();
