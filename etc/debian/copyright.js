#!/usr/bin/env node
'use strict';
/**
 * Writes the package's machine-readable copyright file (DEP-5,
 * https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/) to stdout:
 * db-reg-agent itself, then one paragraph per bundled module under <app>/node_modules,
 * from its package.json (licence) and its licence file (copyright lines and text).
 * Run between the two passes of strip-modules.js (before the licence files go).
 *
 *   node etc/debian/copyright.js <folder with package.json and node_modules> '<holder <mail>>'
 *
 * A module whose licence is missing or has no mapping below stops the build: a
 * person checks it and extends the tables, rather than the package claiming a guess.
 */
const fs = require('node:fs');
const path = require('node:path');
const { LICENCE_FILE, modules } = require('./strip-modules');

/** SPDX identifiers (package.json) → DEP-5 short names. */
const SHORT_NAMES = {
  'MIT': 'Expat',
  'ISC': 'ISC',
  'BSD-2-Clause': 'BSD-2-clause',
  'BSD-3-Clause': 'BSD-3-clause',
  'Apache-2.0': 'Apache-2.0',
  'GPL-2.0-or-later': 'GPL-2+',
};

/** Modules whose package.json names no licence, with where the licence was found. */
const LICENCE_OF = {
  only: 'MIT', // its Readme.md, section "License" (The MIT License)
};

/** Licences whose full text Debian ships in /usr/share/common-licenses: referred to, not copied. */
const COMMON_LICENCES = {
  'Apache-2.0': `Licensed under the Apache License, Version 2.0 (the "License"); you may not
use this software except in compliance with the License. Unless required by
applicable law or agreed to in writing, software distributed under the License
is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY
KIND, either express or implied.

On Debian systems, the complete text of the Apache License, Version 2.0 can be
found in "/usr/share/common-licenses/Apache-2.0".`,
  'GPL-2+': `This program is free software; you can redistribute it and/or modify it under
the terms of the GNU General Public License as published by the Free Software
Foundation; either version 2 of the License, or (at your option) any later
version.

This program is distributed in the hope that it will be useful, but WITHOUT
ANY WARRANTY; without even the implied warranty of MERCHANTABILITY or FITNESS
FOR A PARTICULAR PURPOSE. See the GNU General Public License for more details.

On Debian systems, the complete text of the GNU General Public License version
2 can be found in "/usr/share/common-licenses/GPL-2".`,
};

/** Texts for a module that names its licence but ships no licence file. */
const GENERIC_TEXTS = {
  'Expat': `Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.`,
  'BSD-2-clause': `Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.
2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND
ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED
WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.`,
};

const COPYRIGHT_LINE = /^\s*copyright\s*(\(c\)|©|\d{4})/i;
/** Template lines of a licence text, not a notice (Apache-2.0's appendix). */
const PLACEHOLDER = /\[yyyy\]|\[name of copyright owner\]|<year>/i;

function fail(message) {
  process.stderr.write(`copyright.js: ${message}\n`);
  process.exit(1);
}

/** DEP-5 name(s) of a package.json licence: an SPDX id or an `(A OR B)` expression. */
function shortName(spdx, where) {
  const ids = spdx.replace(/^\(|\)$/g, '').split(/\s+(OR|AND)\s+/);
  return ids.map((id, i) => {
    if (i % 2 === 1) return id.toLowerCase();
    const name = SHORT_NAMES[id];
    if (!name) fail(`${where}: licence '${id}' has no DEP-5 name in SHORT_NAMES; check it and add it`);
    return name;
  }).join(' ');
}

function declaredLicence(pkg, where) {
  const declared = typeof pkg.license === 'string' ? pkg.license
    : pkg.license?.type ?? (Array.isArray(pkg.licenses) ? pkg.licenses.map((l) => l.type).join(' OR ') : undefined);
  const spdx = declared ?? LICENCE_OF[pkg.name];
  if (!spdx) fail(`${where}: package.json names no licence; find it in the module's files and add it to LICENCE_OF`);
  return shortName(spdx, where);
}

function authorName(author) {
  if (!author) return undefined;
  return typeof author === 'string' ? author.replace(/\s*\(https?:[^)]*\)/, '') : [author.name, author.email && `<${author.email}>`].filter(Boolean).join(' ');
}

/** A text as a DEP-5 field continuation: each line indented, empty lines as " .". */
function continuation(text) {
  return text.replace(/\r\n?/g, '\n').trim().split('\n').map((line) => (line.trim() === '' ? ' .' : ` ${line.trimEnd()}`)).join('\n');
}

function moduleParagraph(app, dir, needed) {
  const relative = path.relative(app, dir);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const licence = declaredLicence(pkg, relative);
  const licenceFile = fs.readdirSync(dir).find((name) => LICENCE_FILE.test(name));
  const text = licenceFile ? fs.readFileSync(path.join(dir, licenceFile), 'utf8') : '';
  const notices = [...new Set(text.split('\n').filter((l) => COPYRIGHT_LINE.test(l) && !PLACEHOLDER.test(l)).map((l) => l.trim()))];
  // "Copyright (c) 2015 Dave Horton" → "2015 Dave Horton": the field says it already.
  const holders = notices.length > 0 ? notices.map((n) => n.replace(/^copyright\s*(\(c\)|©)?\s*/i, '')) : [authorName(pkg.author) ?? `the ${pkg.name} authors (no copyright notice in the module)`];
  const lines = [`Files: ${relative}/*`, `Copyright: ${holders.join('\n ')}`];
  // Its own text when it ships one (that is what it is licensed under); else the standalone paragraph.
  if (licenceFile && !COMMON_LICENCES[licence] && !licence.includes(' ')) {
    lines.push(`License: ${licence}`, continuation(text));
  } else {
    lines.push(`License: ${licence}`);
    for (const name of licence.split(' ').filter((_, i) => i % 2 === 0)) needed.add(name);
  }
  lines.push(`Comment: ${pkg.name} ${pkg.version}${licenceFile ? '' : ' (ships no licence file)'}`);
  return lines.join('\n');
}

function standaloneParagraph(name) {
  const text = COMMON_LICENCES[name] ?? GENERIC_TEXTS[name];
  if (!text) fail(`licence '${name}' is used by a module without a licence file and has no text in GENERIC_TEXTS`);
  return `License: ${name}\n${continuation(text)}`;
}

function main() {
  const [app, holder] = process.argv.slice(2);
  if (!app || !holder) fail("usage: copyright.js <folder with package.json and node_modules> '<holder <mail>>'");
  const project = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8'));
  const projectLicence = declaredLicence(project, 'package.json');
  const needed = new Set([projectLicence]);
  const paragraphs = [
    ['Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      `Upstream-Name: ${project.name}`, `Upstream-Contact: ${holder}`].join('\n'),
    [`Files: *`, `Copyright: ${holder}`, `License: ${projectLicence}`].join('\n'),
    ...modules(path.join(app, 'node_modules')).map((dir) => moduleParagraph(app, dir, needed)),
  ];
  paragraphs.push(...[...needed].sort().map(standaloneParagraph));
  process.stdout.write(`${paragraphs.join('\n\n')}\n`);
}

main();
