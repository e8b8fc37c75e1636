/**
 * Watches the configuration for changes and calls back (the caller debounces):
 *
 * - a file edited in place, or saved by rename (vim, most editors, `sed -i`, Ansible's
 *   atomic copy: write a temporary file, rename it over the old one). Watching the file's
 *   inode would lose it at the first rename, so lvsd watches the directory and matches
 *   names;
 * - a Kubernetes ConfigMap mount: `config.yaml -> ..data/config.yaml`, `..data ->
 *   ..2024_01_01_00_00_00.123`; an update writes a new timestamped directory and renames a
 *   new `..data` symlink over the old one. Nothing named config.yaml changes, so every
 *   event on a `..`-prefixed entry counts;
 * - a config directory: files added, changed or removed (only *.yaml / *.yml, so editor
 *   swap files and vim's `4913` write test do not cause reloads);
 * - any other file the loaded config was read from (config.files), in its own directory.
 *
 * Symlinks are not followed: the events that matter are on the links themselves (the
 * `..data` swap), and following them would watch a directory that is about to be deleted.
 */
import { watch, type FSWatcher } from 'chokidar';
import { stat } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';

export interface ConfigWatcherOptions {
  /** The -c argument: a file or a directory. */
  path: string;
  /** Called for every relevant event (already filtered); debounce in the caller. */
  onChange: (event: string, path: string) => void;
  onError?: (err: Error) => void;
  /** Polling for filesystems without inotify (NFS); off by default. */
  usePolling?: boolean;
}

const CONFIG_EXTENSIONS = new Set(['.yaml', '.yml']);

export class ConfigWatcher {
  private watcher: FSWatcher | null = null;
  private files = new Set<string>();
  private directories = new Set<string>();
  private isDirectory = false;
  private readonly root: string;

  constructor(private readonly options: ConfigWatcherOptions) {
    this.root = resolve(options.path);
  }

  /** Starts watching; resolves once the watch is in place (so later edits are seen). */
  async start(files: readonly string[] = []): Promise<void> {
    this.isDirectory = await stat(this.root).then(
      (s) => s.isDirectory(),
      () => false,
    );
    const base = this.isDirectory ? this.root : dirname(this.root);
    this.directories.add(base);
    this.watcher = watch(base, {
      ignoreInitial: true,
      depth: 0,
      followSymlinks: false,
      // Our own filter sees every event; chokidar's atomic-write folding would hide the
      // rename of `..data`, which is exactly what a ConfigMap update is.
      atomic: false,
      usePolling: this.options.usePolling ?? false,
      interval: 1000,
    });
    this.watcher.on('all', (event, path) => {
      if (this.relevant(path)) this.options.onChange(event, path);
    });
    this.watcher.on('error', (err) => this.options.onError?.(err as Error));
    await new Promise<void>((done) => this.watcher!.once('ready', () => done()));
    await this.setFiles(files);
  }

  /** After a reload: watch the directories of every file the config was read from. */
  async setFiles(files: readonly string[]): Promise<void> {
    this.files = new Set(files.map((f) => resolve(f)));
    const wanted = [...this.files].map((f) => dirname(f)).filter((d) => !this.directories.has(d));
    for (const dir of new Set(wanted)) {
      this.directories.add(dir);
      this.watcher?.add(dir);
    }
  }

  async close(): Promise<void> {
    await this.watcher?.close();
    this.watcher = null;
  }

  private relevant(path: string): boolean {
    const full = resolve(path);
    const name = basename(full);
    if (this.files.has(full)) return true;
    // Kubernetes' atomic writer: `..data`, `..data_tmp`, `..2024_...` directories.
    if (name.startsWith('..')) return true;
    if (this.isDirectory)
      return dirname(full) === this.root && CONFIG_EXTENSIONS.has(extname(name).toLowerCase());
    return full === this.root;
  }
}
