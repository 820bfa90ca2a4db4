import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { createIndexSql, createTableSql, parseTableName } from '../src/index.js';
import { MAX_IDENTIFIER_BYTES, indexName, qualifiedTable, quoteIdent } from '../src/identifiers.js';

describe('identifiers and DDL', () => {
  it('quotes identifiers by doubling double quotes', () => {
    expect(quoteIdent('plain')).to.equal('"plain"');
    expect(quoteIdent('we"ird')).to.equal('"we""ird"');
    expect(quoteIdent('"; DROP TABLE x; --')).to.equal('"""; DROP TABLE x; --"');
  });

  it('parses name and schema.name, keeping case and characters', () => {
    expect(parseTableName('Sessions')).to.deep.equal({ schema: undefined, name: 'Sessions' });
    expect(parseTableName('App.Sessions')).to.deep.equal({ schema: 'App', name: 'Sessions' });
    expect(qualifiedTable(parseTableName('App.Ses"sions'))).to.equal('"App"."Ses""sions"');
    expect(Object.isFrozen(parseTableName('t'))).to.equal(true);
  });

  it('names the expiry index after the table, within 63 bytes and without collisions', () => {
    expect(indexName(parseTableName('reprise_snapshots'))).to.equal('reprise_snapshots_expires_at_idx');
    expect(indexName(parseTableName('s.t'))).to.equal('t_expires_at_idx');
    const a = indexName(parseTableName(`${'a'.repeat(60)}1`));
    const b = indexName(parseTableName(`${'a'.repeat(60)}2`));
    expect(a).to.not.equal(b);
    for (const name of [a, b]) {
      expect(Buffer.byteLength(name)).to.be.at.most(MAX_IDENTIFIER_BYTES);
      expect(name).to.match(/^a+_[0-9a-f]{8}_expires_at_idx$/);
    }
    const multibyte = indexName(parseTableName('é'.repeat(31))); // 62 bytes: must be cut at a character boundary
    expect(Buffer.byteLength(multibyte)).to.be.at.most(MAX_IDENTIFIER_BYTES);
    expect(multibyte).to.match(/^é+_[0-9a-f]{8}_expires_at_idx$/);
  });

  it('documents the exact DDL of the default table in the README', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const table = parseTableName('reprise_snapshots');
    expect(readme).to.include(createTableSql(table));
    expect(readme).to.include(createIndexSql(table));
  });
});
