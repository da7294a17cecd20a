import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, refusedAddressReason } from '../../src/webhooks/index.js';
import { parseIPv6 } from '../../src/webhooks/address-policy.js';
import { guardedLookup, RefusedAddressError } from '../../src/webhooks/url-guard.js';

describe('refusedAddressReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private (shared address space)'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved (including broadcast)'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback (IPv4-mapped)'],
    ['::ffff:7f00:1', 'loopback (IPv4-mapped)'],
    ['::ffff:10.0.0.1', 'private (IPv4-mapped)'],
    ['::ffff:169.254.169.254', 'link-local (IPv4-mapped)'],
    ['0:0:0:0:0:ffff:7f00:0001', 'loopback (IPv4-mapped)'],
    ['64:ff9b::a9fe:a9fe', 'link-local (NAT64)'],
    ['2002:7f00:1::', 'loopback (6to4)'],
    ['::127.0.0.1', 'reserved (IPv4-compatible)'],
    ['not-an-ip', 'not an IP address'],
  ])('refuses %s (%s)', (address, why) => {
    expect(refusedAddressReason(address)).toBe(why);
  });

  it.each(['93.184.215.14', '8.8.8.8', '172.32.0.1', '192.169.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])(
    'allows the public address %s',
    (address) => {
      expect(refusedAddressReason(address)).toBeNull();
    },
  );

  it('parses every IPv6 spelling to the same 16 bytes', () => {
    const loop = [...new Array<number>(15).fill(0), 1];
    expect(parseIPv6('::1')).toEqual(loop);
    expect(parseIPv6('0:0:0:0:0:0:0:1')).toEqual(loop);
    expect(parseIPv6('::ffff:1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4]);
    expect(parseIPv6('1::')).toEqual([0, 1, ...new Array<number>(14).fill(0)]);
    expect(parseIPv6('1.2.3.4')).toBeNull();
  });
});

describe('checkWebhookUrl (registration)', () => {
  const strict = { allowPrivateUrls: false };
  const open = { allowPrivateUrls: true };

  it.each([
    ['ftp://example.com/hook', 'scheme'],
    ['file:///etc/passwd', 'scheme'],
    ['not a url', 'valid absolute URL'],
    ['http://user:pw@93.184.215.14/', 'credentials'],
    ['http://127.0.0.1:8080/hook', 'loopback'],
    ['http://10.0.0.5/hook', 'private'],
    ['http://169.254.169.254/latest/meta-data', 'link-local'],
    ['http://[::1]:9000/', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', 'loopback (IPv4-mapped)'],
    ['http://[fd00::1]/', 'unique-local'],
    ['http://2130706433/', 'loopback'],
    ['http://0x7f.1/', 'loopback'],
    ['http://localhost:1234/hook', 'resolves to'],
    [`https://example.com/${'a'.repeat(2048)}`, 'at most 2048'],
  ])('refuses %s', async (url, why) => {
    const err = await checkWebhookUrl(url, strict).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'invalid_webhook_url', status: 400 });
    expect((err as Error).message).toContain(why);
  });

  it('allows public literal addresses', async () => {
    expect((await checkWebhookUrl('https://93.184.215.14/hook', strict)).href).toBe('https://93.184.215.14/hook');
    expect((await checkWebhookUrl('http://[2606:4700:4700::1111]:8443/x', strict)).hostname).toBe('[2606:4700:4700::1111]');
  });

  it('allows private and loopback hosts when private URLs are allowed, but still only http(s)', async () => {
    for (const url of ['http://127.0.0.1:8080/', 'http://localhost/', 'http://[::1]/', 'http://10.0.0.1/']) {
      await expect(checkWebhookUrl(url, open)).resolves.toBeInstanceOf(URL);
    }
    await expect(checkWebhookUrl('gopher://127.0.0.1/', open)).rejects.toMatchObject({ code: 'invalid_webhook_url' });
  });
});

describe('guardedLookup (the lookup each delivery connects through)', () => {
  function look(host: string, options: { all?: boolean; family?: number }) {
    return new Promise<{ err: unknown; address: unknown; family: unknown }>((resolve) =>
      guardedLookup(host, options, (err, address, family) => resolve({ err, address, family })),
    );
  }

  it('refuses a name that resolves to loopback, in both calling forms', async () => {
    for (const options of [{}, { all: true }, { family: 4 }]) {
      const { err } = await look('localhost', options);
      expect(err).toBeInstanceOf(RefusedAddressError);
      expect((err as Error).message).toContain('loopback');
    }
  });

  it('passes resolution failures on unchanged', async () => {
    const { err } = await look('name.invalid', {});
    expect((err as NodeJS.ErrnoException).code).toMatch(/ENOTFOUND|EAI_AGAIN/);
  });
});
