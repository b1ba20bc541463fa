{#- Seed step 12, each prisoner's LAST state: it requires everything the prisoner's new configuration needs
    (its root, base and files — through its last step before the start in the step registry, `last` —, its
    jail.conf block, the host's rc.conf), so a prisoner is never stopped before
    all of it is in place.  Then it starts the prisoner, applies a changed configuration live (jail -m) when
    FreeBSD allows it, or restarts it (stopped with the configuration it was started with) — moving its root
    first when its path changed.  When an earlier state failed, restart_pending says what is left and why. #}
{%- from tpldir ~ "/map.jinja" import present, last with context %}
include:
  - jail.host
  - jail.prisoners
{%- for name in present %}

{{ ('jailprov-' ~ name ~ '-network') | json }}:
  jailprov.network:
    - name: {{ name | json }}
    - require:
      - jailprov: {{ ('jailprov-' ~ name ~ '-' ~ last[name]) | json }}
      - jailprov: {{ ('jailprov-' ~ name ~ '-jail_conf') | json }}

{{ ('jailprov-' ~ name ~ '-running') | json }}:
  jailprov.running:
    - name: {{ name | json }}
    - after_jail_conf: true
    - require:
      - jailprov: {{ ('jailprov-' ~ name ~ '-' ~ last[name]) | json }}
      - jailprov: {{ ('jailprov-' ~ name ~ '-network') | json }}
      - jailprov: {{ ('jailprov-' ~ name ~ '-jail_conf') | json }}
      - jailprov: jailprov-host-rc_conf

{{ ('jailprov-' ~ name ~ '-restart_pending') | json }}:
  jailprov.restart_pending:
    - name: {{ name | json }}
    - onfail:
      - jailprov: {{ ('jailprov-' ~ name ~ '-running') | json }}
{%- endfor %}
