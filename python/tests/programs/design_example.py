# The example of /work/shared/DESIGN.md, verbatim: a named image.
import nanoclaw
from nanoclaw.isolation import DockerSandbox

sandbox = DockerSandbox(image="python:3.11-slim", mem_limit="512m", cpu_shares=512,
                        network_disabled=False,
                        allowed_hosts=["api.openai.com", "my-vector-db.internal"])
agent = nanoclaw.Agent(name="SupportBot_v2", model="gpt-4-turbo", sandbox=sandbox)
print(agent.execute("Summarise today's tickets"))
