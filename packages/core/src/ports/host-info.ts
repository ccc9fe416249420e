/** What the operating system tells about this host, for Heartbeat and the Computer column. */
export interface HostDescription {
  readonly computer: string;
  /** `Linux` or `Windows` (other values only on platforms OMA does not target). */
  readonly osType: string;
  readonly osName: string;
  readonly osMajorVersion: string;
  readonly osMinorVersion: string;
  readonly privateIPs: readonly string[];
}

/** Implemented per platform (agent-linux reads /etc/os-release; agent-windows the registry). */
export interface HostInfo {
  describe(): Promise<HostDescription>;
}
