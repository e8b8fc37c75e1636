/** Configurations of the real servers the checker tests run (nginx, unbound, exim), written to a temporary folder. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVER_V4, SERVER_V6, SOURCE_V4 } from './netns.js';

/** A body of 270 KB that nginx sends at 8 KB/s: a download that outlives any check. */
export const SLOW_BODY_BYTES = 270 * 1024;

export function nginxConfig(dir: string, tls: { cert: string; key: string }): string {
  mkdirSync(join(dir, 'html'), { recursive: true });
  writeFileSync(join(dir, 'html', 'big'), Buffer.alloc(SLOW_BODY_BYTES, 'x'));
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
daemon off;
master_process on;
worker_processes 1;
user root;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  default_type text/plain;
  server {
    listen ${SERVER_V4}:80;
    listen [${SERVER_V6}]:80;
    listen [::]:8080 ipv6only=on;
    listen ${SERVER_V4}:443 ssl;
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    root ${dir}/html;
    location = /health { return 200 "status: OK\\n"; }
    location = /fail { return 200 "status: FAIL\\n"; }
    location = /stream { echo "event: hello"; echo_flush; echo_sleep 3600; }
    location = /slow { limit_rate 8k; alias ${dir}/html/big; }
    location = /version { echo $server_protocol; }
    location = /peer { echo "$remote_addr port $remote_port"; }
  }
}
`,
  );
  return conf;
}

/** Four strings of 200 bytes, as dig +short prints them: over 512 bytes, more than UDP carries without EDNS. */
export const BIG_TXT = ['a', 'b', 'c', 'd'].map((c) => `"${c.repeat(200)}"`).join(' ');

export function unboundConfig(dir: string): string {
  const conf = join(dir, 'unbound.conf');
  writeFileSync(
    conf,
    `server:
  interface: ${SERVER_V4}
  interface: ${SERVER_V6}
  port: 53
  do-daemonize: no
  chroot: ""
  username: ""
  pidfile: ""
  directory: "${dir}"
  use-syslog: no
  logfile: ""
  verbosity: 0
  module-config: "iterator"
  access-control: 0.0.0.0/0 allow
  access-control: ::/0 allow
  local-zone: "web.test." static
  local-data: "web.test. A 192.0.2.1"
  local-data: "web.test. AAAA 2001:db8::1"
  local-data: 'web.test. TXT "hello world"'
  local-data: 'multi.web.test. TXT "v=spf1" "include:example.test"'
  local-data: 'esc.web.test. TXT "say \\"hi\\" \\\\ back" "caf\\195\\169"'
  local-data: 'big.web.test. TXT ${BIG_TXT}'
  local-zone: "refused.test." refuse
  access-control: ${SOURCE_V4}/32 refuse
remote-control:
  control-enable: no
`,
  );
  return conf;
}

export function eximConfig(dir: string): string {
  mkdirSync(join(dir, 'spool'), { recursive: true });
  mkdirSync(join(dir, 'log'), { recursive: true });
  const conf = join(dir, 'exim.conf');
  writeFileSync(
    conf,
    `primary_hostname = mail.test
daemon_smtp_ports = 25
local_interfaces = ${SERVER_V4}
spool_directory = ${dir}/spool
log_file_path = ${dir}/log/%slog
exim_user = root
exim_group = root
never_users =
keep_environment =
tls_advertise_hosts =
host_lookup =
rfc1413_hosts =
acl_smtp_rcpt = refuse
begin acl
refuse:
  deny
`,
  );
  return conf;
}
