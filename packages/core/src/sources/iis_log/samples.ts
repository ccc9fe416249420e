/** Sample IIS 10 W3C logs for the tests (as IIS writes them: CRLF line ends, `+` for spaces). */

export const IIS10_DEFAULT_FIELDS =
  'date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken';

export const ALL_FIELDS =
  'date time s-sitename s-computername s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs-version cs(User-Agent) cs(Cookie) cs(Referer) cs-host sc-status sc-substatus sc-win32-status sc-bytes cs-bytes time-taken';

/** The directive block IIS writes at the top of a file and after each restart. */
export function header(date: string, fields: string = IIS10_DEFAULT_FIELDS): string[] {
  return ['#Software: Microsoft Internet Information Services 10.0', '#Version: 1.0', `#Date: ${date}`, `#Fields: ${fields}`];
}

export const CHROME_UA =
  'Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/120.0.0.0+Safari/537.36';

/** A day of the default fields: a page view, an API error by a domain user, a 404 over IPv6. */
export const DEFAULT_LINES: readonly string[] = [
  ...header('2026-12-03 08:00:00'),
  `2026-12-03 08:00:01 10.0.0.4 GET /default.aspx - 443 - 203.0.113.7 ${CHROME_UA} https://www.example.com/start?q=a+b 200 0 0 46`,
  '2026-12-03 08:00:02 10.0.0.4 POST /api/orders id=42&note=%26x 443 CONTOSO\\alice 203.0.113.8 curl/8.4.0 - 500 19 64 1203',
  '2026-12-03 08:00:03 10.0.0.4 GET /my+docs/caf%C3%A9.html - 80 - 2001:db8::1 - - 404 0 2 15',
];

/** One line of every field IIS can log (site, server, cookie, bytes, host, version). */
export const ALL_FIELDS_LINES: readonly string[] = [
  ...header('2026-12-03 09:15:00', ALL_FIELDS),
  '2026-12-03 09:15:27 W3SVC2 WEB01 10.0.0.5 GET /shop/cart - 443 - 198.51.100.23 HTTP/2 Mozilla/5.0+(X11;+Linux+x86_64) ASP.NET_SessionId=abc123;+theme=dark https://shop.example.com/ shop.example.com 200 0 0 5120 734 12',
];

/** Lines as a file's text, with CRLF as IIS writes them. */
export function crlf(lines: readonly string[]): string {
  return lines.map((l) => `${l}\r\n`).join('');
}
