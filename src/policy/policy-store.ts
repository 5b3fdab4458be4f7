import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  Inject,
  Injectable,
  Logger,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { GatewayMetrics } from '../common/gateway-metrics.js';
import { PolicyAdmission } from './policy-admission.js';
import { PolicyFileError, parsePolicy, type LoadedPolicy } from './policy-loader.js';
import { policyConfig } from './policy.config.js';

export type PolicyReloadResult = 'applied' | 'refused' | 'unchanged';

/** Editors save in bursts (truncate, write, rename); one reload after the burst settles. */
const RELOAD_DEBOUNCE_MS = 100;

/**
 * The policy file: loaded at start (a bad file stops the app), reloaded on SIGHUP and when the
 * file changes. A bad file on reload is refused and the policy in force stays. A file is bad
 * when it is invalid, or when the rest of the configuration cannot serve it (PolicyAdmission).
 */
@Injectable()
export class PolicyStore implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(PolicyStore.name);
  private policy?: LoadedPolicy;
  private watcher?: FSWatcher;
  private pendingReload?: NodeJS.Timeout;
  /** Reloads run one after another so that a slow read never replaces a newer policy. */
  private reloads: Promise<unknown> = Promise.resolve();
  private readonly onSighup = (): void => void this.reload();

  constructor(
    @Inject(policyConfig.KEY) private readonly config: ConfigType<typeof policyConfig>,
    private readonly metrics: GatewayMetrics,
    private readonly admission: PolicyAdmission,
  ) {}

  async onModuleInit(): Promise<void> {
    this.policy = await this.read();
    this.logger.log(
      `policy ${this.policy.version} loaded from ${this.config.file} (${this.policy.rules.length} rules)`,
    );
    process.on('SIGHUP', this.onSighup);
    this.watchFile();
  }

  async onModuleDestroy(): Promise<void> {
    process.off('SIGHUP', this.onSighup);
    this.watcher?.close();
    clearTimeout(this.pendingReload);
    await this.reloads;
  }

  current(): LoadedPolicy {
    if (this.policy === undefined) {
      throw new Error('the policy is read when the module starts; it has not started');
    }
    return this.policy;
  }

  isReady(): boolean {
    return this.policy !== undefined;
  }

  reload(): Promise<PolicyReloadResult> {
    const result = this.reloads.then(() => this.reloadNow());
    this.reloads = result;
    return result;
  }

  private async reloadNow(): Promise<PolicyReloadResult> {
    const inForce = this.policy?.version ?? 'none';
    let candidate: LoadedPolicy;
    try {
      candidate = await this.read();
    } catch (error) {
      this.metrics.policyReloads.inc({ result: 'refused' });
      this.logger.error(
        `policy reload refused, keeping ${inForce}: ${error instanceof Error ? error.message : String(error)}`,
      );
      return 'refused';
    }
    if (candidate.version === inForce) {
      this.logger.debug(`policy file unchanged (${inForce})`);
      return 'unchanged';
    }
    this.policy = candidate;
    this.metrics.policyReloads.inc({ result: 'applied' });
    this.logger.log(
      `policy ${candidate.version} applied from ${this.config.file} (${candidate.rules.length} rules), replacing ${inForce}`,
    );
    return 'applied';
  }

  private async read(): Promise<LoadedPolicy> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.config.file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
      throw new PolicyFileError(this.config.file, [`cannot be read (${code})`]);
    }
    let text: string;
    try {
      // Decoded strictly so that the version hash is the hash of the bytes on disk.
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw new PolicyFileError(this.config.file, ['is not valid UTF-8']);
    }
    const policy = parsePolicy(text, this.config.file);
    const problems = this.admission.problemsOf(policy);
    if (problems.length > 0) {
      throw new PolicyFileError(this.config.file, problems);
    }
    return policy;
  }

  /**
   * Watches the directory, not the file: editors and Kubernetes config maps replace the file
   * (rename or symlink swap), which a watch on the file itself would stop seeing. Any event in
   * the directory schedules a reload; an unchanged file is recognised by its hash.
   */
  private watchFile(): void {
    try {
      this.watcher = watch(dirname(this.config.file), { persistent: false }, () =>
        this.scheduleReload(),
      );
    } catch (error) {
      this.logger.warn(
        `not watching ${this.config.file} (${(error as Error).message}); reload with SIGHUP`,
      );
      return;
    }
    this.watcher.on('error', (error) =>
      this.logger.warn(
        `stopped watching ${this.config.file} (${error.message}); reload with SIGHUP`,
      ),
    );
  }

  private scheduleReload(): void {
    clearTimeout(this.pendingReload);
    this.pendingReload = setTimeout(() => void this.reload(), RELOAD_DEBOUNCE_MS);
  }
}
