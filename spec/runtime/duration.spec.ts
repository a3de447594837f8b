// One duration syntax for --session-timeout, --since and --older-than.
import { expect } from 'chai';
import { UsageError } from '../../policy/errors.js';
import { durationFlag, parseDuration } from '../../runtime/duration.js';
import { parseSince } from '../../runtime/metrics/format.js';

describe('durations (runtime/duration.ts)', () => {
  it('reads a number and one of the units ms, s, m, h, d, w', () => {
    expect(parseDuration('1500ms')).to.equal(1500);
    expect(parseDuration('90s')).to.equal(90_000);
    expect(parseDuration('5m')).to.equal(300_000);
    expect(parseDuration('1.5h')).to.equal(5_400_000);
    expect(parseDuration('7d')).to.equal(604_800_000);
    expect(parseDuration('2w')).to.equal(1_209_600_000);
    expect(parseDuration(' 12 H ')).to.equal(43_200_000);
    expect(parseDuration('0s')).to.equal(0);
  });

  it('never guesses a unit, and refuses what is not a duration', () => {
    for (const text of ['30', '', 'h', '-5m', '5 minutes', '1y', '1e3s', '5m30s', '.5h', '0x10s']) {
      expect(parseDuration(text), text).to.equal(null);
    }
  });

  it('names the flag in a one-line usage error; positive durations refuse zero', () => {
    expect(durationFlag('--older-than', '0d')).to.equal(0);
    expect(() => durationFlag('--older-than', '30')).to.throw(UsageError, /^--older-than must be a duration like 90s, 5m, 12h or 7d \(got "30"\)$/);
    expect(() => durationFlag('--session-timeout', '0s', { positive: true })).to.throw(UsageError, /^--session-timeout must be a positive duration/);
  });

  it('is what --since reads before it tries a date', () => {
    const now = Date.parse('2025-06-01T12:00:00Z');
    expect(parseSince('90m', now).toISOString()).to.equal('2025-06-01T10:30:00.000Z');
    expect(parseSince('1w', now).toISOString()).to.equal('2025-05-25T12:00:00.000Z');
    expect(parseSince('2025-01-31', now).toISOString()).to.equal('2025-01-31T00:00:00.000Z');
    expect(() => parseSince('30', now)).to.throw(UsageError, /--since/);
  });
});
