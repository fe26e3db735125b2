// Uploads one file to a tus server with tus-js-client under Node, as a
// user's script would.
//
//   node tus_js_upload.js ENDPOINT FILE NAME CHUNK [--upload-url URL] [--token T] [--with-creation]
//                         [--deferred]
//
// ENDPOINT: the folder URL to create the upload at; NAME: its filename;
// CHUNK: bytes per PATCH. With --upload-url, resumes that upload (HEAD,
// then the rest) instead of creating one; with --with-creation, the first
// chunk goes with the creation (creation-with-upload); with --deferred, the
// length is not told at creation but once the stream ends
// (creation-defer-length). Prints the upload's URL on
// success; on failure, the error and exit status 1.
'use strict';

const fs = require('fs');
const stream = require('stream');
const tus = require('tus-js-client');

function main() {
  const args = process.argv.slice(2);
  const option = (flag) => {
    const at = args.indexOf(flag);
    if (at < 0) return undefined;
    const [, value] = args.splice(at, 2);
    return value;
  };
  const flag = (name) => {
    const at = args.indexOf(name);
    if (at >= 0) args.splice(at, 1);
    return at >= 0;
  };
  const withCreation = flag('--with-creation');
  const deferred = flag('--deferred');
  const uploadUrl = option('--upload-url');
  const token = option('--token');
  const [endpoint, path, name, chunk] = args;
  // A deferred length is told once tus-js-client reads the stream to its
  // end. Given an fs.ReadStream, 4.3.1 sends a chunk's full Content-Length
  // for a last chunk that is shorter, and no Upload-Length (seen on the
  // wire): a PassThrough stream is what its own tests use.
  let source = fs.createReadStream(path);
  if (deferred) {
    source = new stream.PassThrough();
    source.end(fs.readFileSync(path));
  }
  const upload = new tus.Upload(source, {
    endpoint,
    uploadUrl,
    chunkSize: Number(chunk),
    uploadSize: deferred ? undefined : fs.statSync(path).size,
    uploadLengthDeferred: deferred,
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
