{#- Per prisoner, the seed's steps in order (a thin prisoner has one more after its base: its fstab of read-only
    release mounts; with jailprov:zfs every prisoner's dataset or clone comes first and its declared snapshots
    last). Each step requires the previous one of the same prisoner, so a failure stops that prisoner's later
    steps and not the other prisoners'. #}
{%- from tpldir ~ "/map.jinja" import present, thin, zfs with context %}
{%- set thick_steps = [
      ('root', 'prisoner_root'),
      ('base', 'base_installed'),
      ('resolv_conf', 'resolv_conf'),
      ('syslog', 'syslog_console'),
      ('crontab', 'crontab_adjkerntz'),
      ('hosts', 'hosts'),
      ('pw_conf', 'pw_conf'),
      ('devfs', 'devfs_mounted'),
      ('wall_cmos_clock', 'wall_cmos_clock'),
      ('localtime', 'localtime'),
      ('root_password', 'root_password'),
   ] %}
include:
  - jail.validate
  - jail.release
{%- for name in present %}
{%-   set steps = thick_steps[:2] + [('fstab', 'fstab')] + thick_steps[2:] if name in thin else thick_steps %}
{%-   if zfs %}
{%-     set steps = [('dataset', 'dataset_present')] + steps + [('snapshots', 'snapshots_present')] %}
{%-   endif %}
{%-   for step, fun in steps %}

{{ ('jailprov-' ~ name ~ '-' ~ step) | json }}:
  jailprov.{{ fun }}:
    - name: {{ name | json }}
    - require:
{%-     if loop.first %}
      - jailprov: jailprov-pillar-valid
{%-     else %}
      - jailprov: {{ ('jailprov-' ~ name ~ '-' ~ loop.previtem[0]) | json }}
{%-     endif %}
{%-     if step == 'base' %}
      - jailprov: jailprov-release
{%-     endif %}
{%-     if step == 'dataset' %}
      - jailprov: jailprov-zfs
{%-     endif %}
{%-   endfor %}
{%- endfor %}
