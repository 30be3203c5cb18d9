import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { cpuTimeMs } from '@volley/testkit';
import { htmlToText } from '@volley/message';

describe('htmlToText', () => {
  test('block elements make paragraphs, br makes a line, list items get bullets', () => {
    const html =
      '<h1>Title</h1><p>First para.</p><div>Line one<br>Line two<br/>Line three</div><ul><li>one</li><li>two</li></ul>';
    assert.equal(
      htmlToText(html),
      'Title\n\nFirst para.\n\nLine one\nLine two\nLine three\n\n* one\n* two',
    );
  });

  test('line breaks in the HTML source are spaces, as a browser shows them', () => {
    const html = '<p>This paragraph\n  was wrapped\r\n  by the editor.</p>\n\n\n<p>Second.</p>';
    assert.equal(htmlToText(html), 'This paragraph was wrapped by the editor.\n\nSecond.');
  });

  test('links keep their target unless it adds nothing', () => {
    assert.equal(
      htmlToText('<a href="https://example.com/x">Read more</a>'),
      'Read more (https://example.com/x)',
    );
    assert.equal(
      htmlToText("<a class='btn' href='https://example.com/y'>Go</a>"),
      'Go (https://example.com/y)',
    );
    assert.equal(htmlToText('<a href=https://example.com/z>Z</a>'), 'Z (https://example.com/z)');
    assert.equal(
      htmlToText('<a href="https://example.com/">https://example.com/</a>'),
      'https://example.com/',
    );
    assert.equal(
      htmlToText('<a href="mailto:help@example.com">help@example.com</a>'),
      'help@example.com',
    );
    assert.equal(htmlToText('<a href="#top">Back to top</a>'), 'Back to top');
    assert.equal(
      htmlToText('<a href="https://example.com/i"><img src="x.png"></a>'),
      'https://example.com/i',
    );
    assert.equal(
      htmlToText('<a data-href="https://nope.example" href="/yes">Yes</a>'),
      'Yes (/yes)',
    );
    assert.equal(
      htmlToText('<a href="https://example.com/?a=1&amp;b=2"><b>Bold</b> link</a>'),
      'Bold link (https://example.com/?a=1&b=2)',
    );
  });

  test('scripts, styles, the head and comments vanish', () => {
    const html =
      '<html><head><title>T</title><style>p{color:red}</style></head><body><!-- hidden <p>x</p> -->' +
      '<script type="text/javascript">var a = "<p>no</p>";</script><p>Shown</p><SCRIPT>x()</SCRIPT></body></html>';
    assert.equal(htmlToText(html), 'Shown');
    // Unclosed, they hide the rest, as in a browser.
    assert.equal(htmlToText('<p>Before</p><!-- never closed <p>after</p>'), 'Before');
    assert.equal(htmlToText('<p>Before</p><script>never closed <p>after</p>'), 'Before');
  });

  test('entities are decoded once', () => {
    assert.equal(
      htmlToText(
        '<p>Fish &amp; chips &lt;3 &quot;q&quot; &apos;a&apos; &copy; &hellip; &#8212; &#x1F600; &nbsp;x</p>',
      ),
      'Fish & chips <3 "q" \'a\' © … — 😀 x',
    );
    assert.equal(htmlToText('&amp;lt;'), '&lt;');
    assert.equal(htmlToText('&amp;eacute;'), '&eacute;');
  });

  test('every named entity of HTML is decoded, not only a few', () => {
    assert.equal(htmlToText('<p>Caf&eacute; &euro;5</p>'), 'Café €5');
    assert.equal(
      htmlToText('&Auml;rger &szlig; &frac12; &rarr; &trade; &hearts; &NotEqualTilde; &fjlig;'),
      'Ärger ß ½ → ™ ♥ ≂̸ fj',
    );
  });

  test('numeric references decode as a browser does: invalid code points become U+FFFD', () => {
    // Zero, surrogates and past U+10FFFF are not characters (HTML: the replacement character);
    // 0x80-0x9F are read as Windows-1252, as the HTML spec says.
    assert.equal(
      htmlToText('&#0; &#xD800; &#x110000; &#128; &#x9F; &#233 &bogus;'),
      '\uFFFD \uFFFD \uFFFD € Ÿ é &bogus;',
    );
  });

  test('entities without a semicolon where HTML allows them, in text but not before = in a link', () => {
    assert.equal(htmlToText('&copy 2026 &amp co &lt;3'), '© 2026 & co <3');
    // The spec's own example: the longest legacy name ("not") is taken.
    assert.equal(htmlToText("I'm &notit; I tell you"), "I'm ¬it; I tell you");
    assert.equal(htmlToText('&notin; &notanentity'), '∉ ¬anentity');
    // In an attribute, `&copy=` is a query parameter, not ©.
    assert.equal(
      htmlToText('<a href="https://example.com/?a=1&copy=2&amp;b=3">Go</a>'),
      'Go (https://example.com/?a=1&copy=2&b=3)',
    );
    // A target is decoded once, and what it decodes to is not taken for a tag.
    assert.equal(
      htmlToText('<a href="https://example.com/?q=&lt;b&gt;&amp;lt;">Go</a>'),
      'Go (https://example.com/?q=<b>&lt;)',
    );
  });

  test('table cells are separated and rows become lines', () => {
    const html = '<table><tr><td>a</td><td>b</td></tr><tr><th>c</th><td>d</td></tr></table>';
    assert.equal(htmlToText(html), 'a b\n\nc d');
  });

  test('stays linear on hostile markup that made the old patterns rescan the input', () => {
    // Each of these took minutes with lazy patterns per unclosed opener (quadratic).
    const inputs = [
      '<a '.repeat(100_000),
      '<a href="x">'.repeat(50_000),
      '<script>'.repeat(100_000),
      '<!--'.repeat(100_000),
      '<'.repeat(300_000),
      '<p '.repeat(100_000),
      '&'.repeat(300_000),
      '&#'.repeat(150_000),
      '&#x1'.repeat(100_000),
      '&NotEqualTild'.repeat(30_000),
      `<a href="${'&amp'.repeat(50_000)}">x</a>`,
    ];
    for (const html of inputs) {
      // CPU time, which other load on the machine does not stretch.
      const ms = cpuTimeMs(() => htmlToText(html));
      assert.ok(ms < 3_000, `${JSON.stringify(html.slice(0, 12))}... took ${ms} ms of CPU`);
    }
  });
});
