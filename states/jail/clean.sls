{#- The inverse of the formula (saltstack-formulas' `clean`; never included by init.sls):
    `state.apply jail.clean` stops and destroys every prisoner jailprov manages — the pillar's, present or
    absent, and every tree below jail_root with jailprov's install stamp — and gives back the host files
    jailprov changed (rc.conf, jail.conf, jail.conf.d, pw.conf) the administrator's text, then removes the
    release tree and release dataset it made when nothing else uses them. An administrator's own jail is never
    touched; see salt_jail/core/features/clean.py for what is left and why. Rendered only for a valid pillar. #}
{%- from tpldir ~ "/map.jinja" import valid with context %}
include:
  - jail.validate
{%- if valid %}

jailprov-host-clean:
  jailprov.cleaned:
    - name: host
    - require:
      - jailprov: jailprov-pillar-valid
{%- endif %}
