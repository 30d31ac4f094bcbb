/* agent.c — the C API of an agent: a sandbox profile, a model, a prompt; the model decides, the sandbox acts.
 *
 *   cc -o agent examples/agent.c -I include -L build -lnanoclaw -Wl,-rpath,$PWD/build
 *   OPENAI_API_KEY=sk-... ./agent gpt-4o-mini "How much memory does this machine have?" [examples/agent.json]
 *
 * The key is read from OPENAI_API_KEY by nanoclaw (the profile's agent.api_key_env names another variable)
 * and never enters the sandbox; OPENAI_BASE_URL (or agent.base_url) points at another OpenAI-compatible
 * server, e.g. http://127.0.0.1:11434/v1 for Ollama. */
#include <stdio.h>
#include <stdlib.h>

#include <nanoclaw.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL PROMPT [PROFILE.json]\n", argv[0]);
    return 2;
  }
  nc_error err = {0};
  nc_profile *sandbox = nc_profile_new(); /* secure defaults: 512m, 60 s for the whole task, no network */
  if (!sandbox) return 1;
  if ((argc > 3 && nc_profile_load_file(sandbox, argv[3], &err) < 0) ||
      nc_profile_set(sandbox, "mem_limit", "256m", NULL, &err) < 0 ||
      nc_profile_set(sandbox, "tmpfs", "/work:64m", NULL, &err) < 0 ||
      nc_profile_set(sandbox, "workdir", "/work", NULL, &err) < 0) {
    fprintf(stderr, "profile: %s\n", err.msg);
    nc_profile_free(sandbox);
    return 1;
  }
  /* The profile is borrowed: it must outlive the agent. */
  nc_agent *agent = nc_agent_new("ExampleBot", argv[1], sandbox, &err);
  if (!agent) {
    fprintf(stderr, "%s\n", err.msg);
    nc_profile_free(sandbox);
    return 1;
  }
  char *answer = NULL;
  int status = 0;
  if (nc_agent_execute(agent, argv[2], &answer, &err) < 0) {
    fprintf(stderr, "%s\n", err.msg);
    status = 1;
  } else {
    printf("%s\n", answer);
    free(answer);
  }
  nc_agent_free(agent);
  nc_profile_free(sandbox);
  return status;
}
