import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { decodeTransfer, getHeader, parseContentType, splitMessage, splitMultipart } from '../../src/mime/index.js';
import { fixtures, largeAttachment, largeAttachmentPayload } from './fixtures.js';

const REQUIRED = ['from', 'to', 'cc', 'bcc', 'date', 'message-id', 'subject', 'mime-version', 'content-type'];

describe('fixtures', () => {
  for (const [name, build] of Object.entries(fixtures)) {
    it(`${name} is a full RFC 5322 message with the usual header fields`, () => {
      const m = build();
      const { headers } = splitMessage(m);
      for (const f of REQUIRED) assert.ok(getHeader(headers, f), `${name} lacks ${f}`);
      assert.equal(getHeader(headers, 'mime-version')!.value, '1.0');
      assert.ok(!Number.isNaN(Date.parse(getHeader(headers, 'date')!.value)));
      assert.match(getHeader(headers, 'message-id')!.value, /^<[^<>@\s]+@[^<>@\s]+>$/);
    });
    it(`${name} returns a fresh array each call`, () => {
      const a = build();
      const b = build();
      assert.notEqual(a.buffer, b.buffer);
      assert.deepEqual(a, b);
    });
  }

  for (const size of [0, 1, 2, 3, 57, 58, 1000, 1 << 20]) {
    it(`largeAttachment(${size}) carries exactly ${size} decoded bytes`, () => {
      const { headers, body } = splitMessage(largeAttachment(size));
      const ct = parseContentType(getHeader(headers, 'content-type')!.value);
      const mp = splitMultipart(body, ct.params['boundary']!);
      assert.equal(mp.parts.length, 2);
      const part = splitMessage(mp.parts[1]!);
      const data = decodeTransfer(getHeader(part.headers, 'content-transfer-encoding')!.value, part.body);
      assert.ok(Buffer.from(data).equals(Buffer.from(largeAttachmentPayload(size))));
    });
  }
});
