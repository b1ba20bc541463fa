{#- The FreeBSD 14.2 jail tutorial written with stock Salt states only: what a Salt user would write by hand
    instead of the jail formula.  The benchmark (bench/run.py) compares the two; the point is a fair,
    idiomatic SLS, so it reads the same `jailprov` pillar and uses each stock state the way its
    documentation suggests:

    - one download of base.txz, verified against the release's MANIFEST (`source_hash` may name a hash
      file; file.extract_hash finds the `base.txz<TAB><sha256>` line), kept in the minion cache;
    - archive.extracted with `options: -p` (so the system tar extracts it, keeping modes and setuid bits,
      not Python's tarfile) and `enforce_toplevel: False` (base.txz has no single top directory);
      `if_missing` spares every later run a full listing of the 20 000-entry archive, and `trim_output`
      keeps the 20 000 extracted names out of the job return;
    - file.comment (with `backup: False`: no .bak files left in the prisoner) / file.append / file.managed /
      file.symlink for the text edits, pw(8) through cmd.run with `unless` for the root password, and
      jail(8) through cmd.run with `unless: jls -j NAME`;
    - host files as the tutorial writes them: pw.conf, the rc.conf lines, and jail.conf as one managed file.

    `bench:list_archive: true` drops `if_missing` (bench/run.py measures that once, to show its cost).

    Rehearsal: `bench:root` is the scratch root every path is prefixed with and `bench:bin` the directory
    of the FreeBSD stand-ins (with a trailing slash).  On a real FreeBSD host both are empty. -#}
{%- set jp = salt['pillar.get']('jailprov', {}) %}
{%- set root = salt['pillar.get']('bench:root', '') %}
{%- set bin = salt['pillar.get']('bench:bin', '') %}
{%- set list_archive = salt['pillar.get']('bench:list_archive', False) %}
{%- set jail_root = jp.get('jail_root', '/home/jail') %}
{%- set arch_path = {'amd64': 'amd64/amd64', 'arm64': 'arm64/aarch64', 'i386': 'i386/i386',
                      'riscv64': 'riscv/riscv64', 'armv7': 'arm/armv7'}[jp.get('arch', 'amd64')] %}
{%- set release_url = jp.mirror ~ '/' ~ arch_path ~ '/' ~ jp.release %}
{%- set defaults = jp.get('defaults', {}) %}
{%- set prisoners = jp.get('prisoners', {}) %}

{%- macro pw_conf(range) %}
        #
        # pw.conf - user/group configuration defaults
        #

        # Password for new users? no=nologin yes=loginid none=blank random=random
        defaultpasswd = "no"

        # Range of valid default user ids
        minuid = {{ range.uid[0] }}
        maxuid = {{ range.uid[1] }}

        # Range of valid default group ids
        mingid = {{ range.gid[0] }}
        maxgid = {{ range.gid[1] }}
{%- endmacro %}

{%- macro first_ip(p) %}{{ p.ip4 if p.ip4 is string else p.ip4[0] }}{% endmacro %}

jail-host-pw_conf:
  file.managed:
    - name: {{ root }}/etc/pw.conf
    - contents: |
{{- pw_conf(jp.host.pw_range) }}

jail-host-rc_conf:
  file.append:
    - name: {{ root }}/etc/rc.conf
    - text:
      - 'jail_enable="YES"'
{%- for name, p in prisoners.items() %}
      - 'ifconfig_{{ jp.interface }}_alias{{ loop.index0 }}="inet {{ first_ip(p) }} netmask 255.255.255.255"'
{%- endfor %}

jail-host-jail_conf:
  file.managed:
    - name: {{ root }}/etc/jail.conf
    - contents: |
{%- for name, p in prisoners.items() %}
{%- if not loop.first %}
{{ '' }}
{%- endif %}
        {{ name }} {
            jid = {{ p.jid }};
            path = "{{ jail_root }}/{{ name }}";
            ip4.addr = {{ first_ip(p) }};
            host.hostname = {{ p.hostname }};
            interface = {{ jp.interface }};
            allow.chflags;
            allow.raw_sockets;
            exec.start = "/bin/sh /etc/rc";
            exec.stop = "/bin/sh /etc/rc.shutdown jail";
            exec.clean;
            mount.devfs;
            devfs_ruleset = 4;
        }
{%- endfor %}

{%- for name, p in prisoners.items() %}
{%- set path = jail_root ~ '/' ~ name %}
{%- set etc = root ~ path ~ '/etc' %}
{%- set timezone = p.get('timezone', defaults.get('timezone')) %}

jail-{{ name }}-root:
  file.directory:
    - name: {{ root }}{{ path }}
    - makedirs: True

jail-{{ name }}-base:
  archive.extracted:
    - name: {{ root }}{{ path }}
    - source: {{ release_url }}/base.txz
    - source_hash: {{ release_url }}/MANIFEST
    - source_hash_name: base.txz
    - options: -p
    - enforce_toplevel: False
    - trim_output: True
{%- if not list_archive %}
    - if_missing: {{ root }}{{ path }}/bin/freebsd-version
{%- endif %}
    - require:
      - file: jail-{{ name }}-root

jail-{{ name }}-resolv_conf:
  file.managed:
    - name: {{ etc }}/resolv.conf
    - source: {{ root }}/etc/resolv.conf
    - require:
      - archive: jail-{{ name }}-base

jail-{{ name }}-syslog:
  file.comment:
    - name: {{ etc }}/syslog.conf
    - regex: '^\*\.err;kern\.warning;auth\.notice;mail\.crit\s+/dev/console'
    - backup: False
    - require:
      - archive: jail-{{ name }}-base

jail-{{ name }}-crontab:
  file.comment:
    - name: {{ etc }}/crontab
    - regex: '^[^#].*\sadjkerntz -a$'
    - backup: False
    - require:
      - archive: jail-{{ name }}-base

jail-{{ name }}-hosts:
  file.append:
    - name: {{ etc }}/hosts
    - text: "{{ first_ip(p) }}\t\t{{ p.hostname }} {{ p.hostname.split('.')[0] }}"
    - require:
      - archive: jail-{{ name }}-base

jail-{{ name }}-pw_conf:
  file.managed:
    - name: {{ etc }}/pw.conf
    - contents: |
{{- pw_conf(p.pw_range) }}
    - require:
      - archive: jail-{{ name }}-base

jail-{{ name }}-wall_cmos_clock:
  file.managed:
    - name: {{ etc }}/wall_cmos_clock
    - replace: False
    - require:
      - archive: jail-{{ name }}-base
{%- if timezone %}

jail-{{ name }}-localtime:
  file.symlink:
    - name: {{ etc }}/localtime
    - target: /usr/share/zoneinfo/{{ timezone }}
    - force: True
    - require:
      - archive: jail-{{ name }}-base
{%- endif %}
{%- if p.get('root_password') %}

jail-{{ name }}-root_password:
  cmd.run:
    - name: {{ bin }}pw -R {{ path }} usermod root -H 0
    - stdin: {{ p.root_password | yaml_dquote }}
    - unless: grep -qF {{ ('root:' ~ p.root_password ~ ':') | quote }} {{ etc }}/master.passwd
    - require:
      - archive: jail-{{ name }}-base
{%- endif %}

jail-{{ name }}-running:
  cmd.run:
    - name: {{ bin }}jail -f /etc/jail.conf -c {{ name }}
    - unless: {{ bin }}jls -j {{ name }}
    - require:
      - file: jail-host-jail_conf
      - file: jail-{{ name }}-wall_cmos_clock
{%- endfor %}
