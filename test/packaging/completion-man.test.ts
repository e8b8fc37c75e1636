/**
 * Shell completion and lvsd(8), both written from the command definitions: the committed
 * man page is what the code writes now and man reads it without a warning; each shell
 * loads its script, and bash and fish complete commands, options, option values and file
 * names as the parser accepts them.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { roff } from '../../src/cli/manpage.js';
import { packagedManPage } from '../../src/cli/packaging.js';
import { fullProgram } from '../../src/cli/program.js';
import { describeProgram, type ProgramSpec } from '../../src/cli/tree.js';
import { lvsd, missing, root, run } from './helpers.js';

let spec: ProgramSpec;
beforeAll(async () => {
  spec = describeProgram(await fullProgram());
});

async function script(shell: string): Promise<string> {
  const printed = await lvsd(['completion', shell]);
  expect(printed.stderr).toBe('');
  expect(printed.code).toBe(0);
  const path = join(await mkdtemp(join(tmpdir(), 'lvsd-completion-')), `lvsd.${shell}`);
  await writeFile(path, printed.stdout);
  return path;
}

/** What every shell's completion lists: the command names, and an option's fixed values. */
async function completesCommandsAndValues(complete: (line: string) => Promise<unknown[]>) {
  expect(await complete('lvsd ')).toEqual(expect.arrayContaining(spec.commands.map((c) => c.name)));
  expect(await complete('lvsd run --log-level ')).toEqual(LOG_LEVELS);
}

const LOG_LEVELS = ['debug', 'error', 'fatal', 'info', 'silent', 'trace', 'warn'];

describe('lvsd(8)', () => {
  it('packaging/lvsd.8 is what the command definitions give now (npm run packaging writes it)', async () => {
    expect(await readFile(join(root, 'packaging/lvsd.8'), 'utf8')).toBe(await packagedManPage());
  });

  it('has a section for every command and an entry for every option', async () => {
    const page = await packagedManPage();
    for (const command of spec.commands.filter((c) => c.name !== 'help')) {
      expect(page).toContain(`.SS "lvsd ${roff(command.name)} `);
      for (const option of command.options.filter((o) => o.long && o.long !== '--help'))
        expect(page, `${command.name} ${option.long}`).toContain(`\\fB${roff(option.long!)}\\fR`);
    }
  });

  const skip = missing('man', 'groff');
  it.skipIf(skip)(`man formats it without a warning ${skip}`, async () => {
    const formatted = await run(
      'man',
      ['--warnings', '-E', 'UTF-8', '-l', join(root, 'packaging/lvsd.8')],
      {
        env: { ...process.env, MANWIDTH: '80', LC_ALL: 'C.UTF-8', MAN_KEEP_FORMATTING: '' },
      },
    );
    expect(formatted.stderr).toBe('');
    expect(formatted.code).toBe(0);
    expect(formatted.stdout).toMatch(/lvsd run \[options\]/);
    expect(formatted.stdout).toMatch(/--log-level level/);
  });
});

describe('lvsd completion', { timeout: 60_000 }, () => {
  it('refuses a shell it does not know, exit 2', async () => {
    const refused = await lvsd(['completion', 'tcsh']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/bash, zsh, fish/);
  });

  /** What bash completes for the words typed so far (the last one being completed). */
  async function bash(path: string, words: string[], cwd = root): Promise<string[]> {
    const program = [
      `source ${JSON.stringify(path)}`,
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      '_lvsd',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash expands it, not JavaScript
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    const ran = await run('bash', ['--norc', '-c', program], { cwd });
    expect(ran.stderr).toBe('');
    return ran.stdout.split('\n').filter(Boolean);
  }

  it('bash completes commands, options, their values and file names', async () => {
    const path = await script('bash');
    expect(await bash(path, ['lvsd', ''])).toEqual(
      expect.arrayContaining(spec.commands.map((c) => c.name)),
    );
    expect(await bash(path, ['lvsd', 'sy'])).toEqual(['systemd-unit']);
    expect(await bash(path, ['lvsd', 'run', '--log-l'])).toEqual(['--log-level']);
    expect(await bash(path, ['lvsd', 'run', '--log-level', 'd'])).toEqual(['debug']);
    expect(await bash(path, ['lvsd', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    expect(await bash(path, ['lvsd', 'help', 'va'])).toEqual(['validate']);
    expect(await bash(path, ['lvsd', 'run', '--host', ''])).toEqual([]);
    const dir = await mkdtemp(join(tmpdir(), 'lvsd-files-'));
    await writeFile(join(dir, 'table.json'), '{}');
    expect(await bash(path, ['lvsd', 'plan', '--state', 'ta'], dir)).toEqual(['table.json']);
    expect(await bash(path, ['lvsd', 'plan', '-c', 'ta'], dir)).toEqual(['table.json']);
  });

  const noFish = missing('fish');
  it.skipIf(noFish)(`fish completes commands, options and their values ${noFish}`, async () => {
    const path = await script('fish');
    const complete = async (line: string) => {
      const ran = await run('fish', [
        '--no-config',
        '-c',
        `source ${path}; complete -C ${JSON.stringify(line)}`,
      ]);
      expect(ran.stderr).toBe('');
      return ran.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0]);
    };
    await completesCommandsAndValues(complete);
    expect(await complete('lvsd completion ')).toEqual(
      expect.arrayContaining(['bash', 'zsh', 'fish']),
    );
    expect(await complete('lvsd validate --all')).toEqual(['--all-hosts']);
  });

  const noZsh = missing('zsh');
  it.skipIf(noZsh)(
    `zsh loads its script through compinit and binds it to lvsd ${noZsh}`,
    async () => {
      const path = await script('zsh');
      const program = [
        'autoload -U compinit && compinit -u -D',
        `source ${path}`,
        'print -r -- $_comps[lvsd]',
        'whence -w _lvsd',
      ].join('\n');
      const ran = await run('zsh', ['-f', '-c', program]);
      expect(ran.stderr).toBe('');
      expect(ran.stdout.split('\n')).toEqual(['_lvsd', '_lvsd: function', '']);
    },
  );

  it.skipIf(noZsh)(
    `zsh completes commands, options, their values and help's command ${noZsh}`,
    async () => {
      const path = await script('zsh');
      const dir = await mkdtemp(join(tmpdir(), 'lvsd-zsh-'));
      await writeFile(join(dir, 'complete.zsh'), ZSH_TAB);
      const complete = async (line: string) => {
        const ran = await run('timeout', [
          '30',
          'zsh',
          '-f',
          join(dir, 'complete.zsh'),
          path,
          line,
        ]);
        expect(ran.stderr).toBe('');
        expect(ran.code).toBe(0);
        return listed(ran.stdout);
      };
      await completesCommandsAndValues(complete);
      expect(await complete('lvsd plan --st')).toEqual(['--state', '--state-dir']);
      expect(await complete('lvsd completion ')).toEqual(['bash', 'fish', 'zsh']);
      expect(await complete('lvsd help v')).toEqual(['validate']);
    },
  );
});

/**
 * Types `$2` and TAB into an interactive zsh on a pseudo-terminal (zsh/zpty), with TAB bound
 * to list-choices, and prints what the terminal showed, up to a mark printed after it. It
 * types only once zle is reading (the prompt and zle's bracketed-paste switch are out):
 * typed earlier, the TAB is a character of the line, not a completion.
 */
const ZSH_TAB = `zmodload zsh/zpty
zpty z 'TERM=dumb zsh -f -i'
zpty -w z 'RPS1="" PROMPT_EOL_MARK=""; unsetopt prompt_sp beep list_beep; bindkey -e'
zpty -w z "autoload -U compinit && compinit -u -D && source \${(q)1}"
zpty -w z 'zstyle ":completion:*" list-separator "|"; LISTMAX=0; bindkey "^I" list-choices'
zpty -w z "PS1=\\$'\\\\x52EADY> '; print -r -- BEGIN-\\$((6*7))"
zpty -r z _ '*BEGIN-42*READY> '$'\\e''\\[?2004h'
zpty -n -w z "$2"$'\\t'$'\\C-u'
zpty -w z 'print -r -- END-$((6*7))'
zpty -r z out '*END-42*'
zpty -d z
print -r -- "$out"
`;

/** The words zsh listed below the typed line (descriptions, after "|", left out), sorted. */
function listed(terminal: string): string[] {
  const [typed, ...below] = terminal
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's escape sequences
    .replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '')
    .split('\n');
  // Nothing to list: the line is erased and the mark printed over it, with no list between.
  if (typed!.includes('END-')) return [];
  const words: string[] = [];
  // Down to the prompt zle draws again below the list.
  for (const line of below) {
    if (line.includes('READY> ')) break;
    words.push(...(line.split('|')[0] ?? '').split(/\s+/).filter(Boolean));
  }
  expect(
    below.some((line) => line.includes('END-42')),
    terminal,
  ).toBe(true);
  return words.sort();
}
